"""Pairing by stream id (spec 2.3), server pushes, unmatched both ways, expiry, bounds, ignored_ops."""

from __future__ import annotations

from packetshipper.modules.cassandra.correlator import CassandraCorrelator
from packetshipper.modules.cassandra.messages import Frame
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)

CONN = Connection("tcp", 4, Endpoint("127.0.0.1", 40000), Endpoint("127.0.0.1", 9042))


def req(stream: int, ts: float = 1.0, opcode: int = 0x07) -> Frame:
    return Frame(ts=ts, version=4, is_response=False, flags=0, stream=stream, opcode=opcode, length=10, size=19)


def resp(stream: int, ts: float = 2.0, opcode: int = 0x08, fields: dict | None = None) -> Frame:  # type: ignore[type-arg]
    return Frame(ts=ts, version=4, is_response=True, flags=0, stream=stream, opcode=opcode, length=4, size=13,
                 fields=fields or {})


def correlator(counts: dict[str, int] | None = None, *, max_pending: int = 100,
               ignored: frozenset[int] = frozenset()) -> CassandraCorrelator:
    counted = counts if counts is not None else {}

    def count(name: str, n: int = 1) -> None:
        counted[name] = counted.get(name, 0) + n

    return CassandraCorrelator(CONN, max_pending=max_pending, timeout=10.0, ignored=ignored, count=count)


def test_out_of_order_responses_find_their_requests() -> None:
    c = correlator()
    assert c.on_message(Direction.REQUEST, req(0), 1.0) == []
    assert c.on_message(Direction.REQUEST, req(64), 1.0) == []
    first = c.on_message(Direction.RESPONSE, resp(64, 2.0), 2.0)
    second = c.on_message(Direction.RESPONSE, resp(0, 3.0), 3.0)
    assert [(t.request.stream, t.response.stream) for t in first + second] == [(64, 64), (0, 0)]  # type: ignore[union-attr]
    assert (first[0].start, first[0].end, first[0].request_bytes, first[0].response_bytes) == (1.0, 2.0, 19, 13)
    assert first[0].status is Status.OK


def test_server_push_without_request() -> None:
    (txn,) = correlator().on_message(Direction.RESPONSE, resp(-1, opcode=0x0C), 2.0)
    assert txn.request is None and txn.status is Status.OK


def test_error_response_is_an_error() -> None:
    c = correlator()
    c.on_message(Direction.REQUEST, req(3), 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, resp(3, opcode=0x00, fields={
        "error": {"code": 0x2000, "msg": "line 1:0 no viable alternative", "type": "errSyntax"}}), 2.0)
    assert txn.status is Status.ERROR
    assert txn.error == "errSyntax: line 1:0 no viable alternative"


def test_unmatched_response_and_request() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts)
    (txn,) = c.on_message(Direction.RESPONSE, resp(9), 2.0)
    assert (txn.request, txn.status, txn.error) == (None, Status.ERROR, UNMATCHED_RESPONSE)
    c.on_message(Direction.REQUEST, req(1, ts=1.0), 1.0)
    c.on_message(Direction.REQUEST, req(2, ts=5.0), 5.0)
    expired = c.expire(12.0)
    assert [(t.request.stream, t.error) for t in expired] == [(1, UNMATCHED_REQUEST)]  # type: ignore[union-attr]
    assert [t.request.stream for t in c.close(13.0)] == [2]  # type: ignore[union-attr]
    assert counts == {"unmatched_responses": 1, "unmatched_requests": 2}


def test_a_reused_pending_stream_publishes_the_first_unanswered() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts)
    c.on_message(Direction.REQUEST, req(5, ts=1.0), 1.0)
    (txn,) = c.on_message(Direction.REQUEST, req(5, ts=2.0), 2.0)
    assert txn.request.ts == 1.0 and txn.error == UNMATCHED_REQUEST  # type: ignore[union-attr]
    assert counts["duplicate_streams"] == 1


def test_memory_is_bounded_when_requests_never_get_responses() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts, max_pending=50)
    out = []
    for i in range(10_000):
        out += c.on_message(Direction.REQUEST, req(i % 32768, ts=float(i)), float(i))
    assert len(c._pending) == 50
    assert len(out) == 10_000 - 50 and counts["pending_requests_overflow"] == 10_000 - 50


def test_ignored_ops_drop_the_transaction_on_either_side() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts, ignored=frozenset({0x05, 0x0C}))
    c.on_message(Direction.REQUEST, req(0, opcode=0x05), 1.0)
    assert c.on_message(Direction.RESPONSE, resp(0, opcode=0x06), 2.0) == []
    assert c.on_message(Direction.RESPONSE, resp(-1, opcode=0x0C), 2.0) == []
    assert counts["ignored"] == 2
