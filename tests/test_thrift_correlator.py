"""Thrift pairing: a reply answers the oldest call of its method, oneway calls stand alone, calls left
behind by an answered later call are taken as oneway (as Packetbeat takes them), bounds and expiry."""

from __future__ import annotations

from packetshipper.modules.thrift.correlator import ThriftCorrelator
from packetshipper.modules.thrift.messages import CALL, EXCEPTION, ONEWAY, REPLY, ThriftMessage
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)

CONN = Connection("tcp", 4, Endpoint("127.0.0.1", 40000), Endpoint("127.0.0.1", 9090))


def msg(method: str, kind: int, seqid: int = 0, ts: float = 1.0,
        fields: tuple[tuple[int, str], ...] = ()) -> ThriftMessage:
    return ThriftMessage(ts=ts, size=20, method=method, kind=kind, seqid=seqid, fields=fields, protocol="binary")


def correlator(counts: dict[str, int], max_pending: int = 100) -> ThriftCorrelator:
    def count(name: str, n: int = 1) -> None:
        counts[name] = counts.get(name, 0) + n

    return ThriftCorrelator(CONN, max_pending=max_pending, timeout=10.0, count=count)


def test_pairing_oneway_and_assumed_oneway() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts)
    (oneway,) = c.on_message(Direction.REQUEST, msg("fire", ONEWAY), 1.0)
    assert oneway.response is None and oneway.status is Status.OK
    c.on_message(Direction.REQUEST, msg("zip", CALL), 1.0)
    c.on_message(Direction.REQUEST, msg("ping", CALL), 1.0)
    left, answered = c.on_message(Direction.RESPONSE, msg("ping", REPLY, ts=2.0), 2.0)
    assert (left.request.method, left.response, left.status) == ("zip", None, Status.OK)  # type: ignore[union-attr]
    assert (answered.request.method, answered.end) == ("ping", 2.0)  # type: ignore[union-attr]
    assert counts == {"assumed_oneway": 1}


def test_exceptions_are_errors() -> None:
    c = correlator({})
    c.on_message(Direction.REQUEST, msg("div", CALL), 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, msg("div", REPLY, fields=((1, "(1: 4)"),)), 2.0)
    assert txn.status is Status.ERROR
    c.on_message(Direction.REQUEST, msg("x", CALL), 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, msg("x", EXCEPTION, fields=((1, '"unknown method"'),)), 2.0)
    assert txn.status is Status.ERROR


def test_unmatched_expiry_and_bounds() -> None:
    counts: dict[str, int] = {}
    c = correlator(counts, max_pending=3)
    (txn,) = c.on_message(Direction.RESPONSE, msg("nobody", REPLY), 1.0)
    assert txn.error == UNMATCHED_RESPONSE
    out = []
    for i in range(10):
        out += c.on_message(Direction.REQUEST, msg("m", CALL, seqid=i, ts=float(i)), float(i))
    assert len(out) == 7 and len(c._pending) == 3
    assert [t.request.seqid for t in c.expire(18.5)] == [7, 8]  # type: ignore[union-attr]
    assert [(t.request.seqid, t.error) for t in c.close(20.0)] == [(9, UNMATCHED_REQUEST)]  # type: ignore[union-attr]
