"""Pairing requests with responses: pipelining, unmatched sides, interim responses, idle expiry, limits."""

from __future__ import annotations

from collections import Counter

from http_wire import request, response
from packetshipper.modules.http.correlator import HOST_PORT_MISMATCH, HttpCorrelator
from packetshipper.modules.http.messages import HttpRequest, HttpResponse
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig
from packetshipper.protocol import Connection, Direction, Endpoint, Status

CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 8080))
CONFIG = HttpConfig.from_mapping({})


def req(target: str, ts: float, host: str = "example.com") -> HttpRequest:
    (msg,) = HttpStreamParser(CONFIG).receive_data(request("GET", target, headers=[("Host", host)]), ts)
    return msg


def resp(status: int, ts: float, body: bytes = b"") -> HttpResponse:
    (msg,) = HttpStreamParser(CONFIG).receive_data(response(status, "X", body=body), ts)
    return msg


def correlator(counts: Counter[str] | None = None, max_pending: int = 10, timeout: float = 10.0) -> HttpCorrelator:
    counter = counts if counts is not None else Counter()
    return HttpCorrelator(CONN, max_pending, timeout, lambda name: counter.update([name]))


def test_pipelined_requests_pair_in_order() -> None:
    c = correlator()
    for i, target in enumerate(["/a", "/b", "/c"]):
        assert c.on_message(Direction.REQUEST, req(target, 1.0 + i), 1.0 + i) == []
    out = []
    for i, status in enumerate([200, 404, 500]):
        out += c.on_message(Direction.RESPONSE, resp(status, 5.0 + i), 5.0 + i)
    assert [(t.request.target, t.response.status_code, t.status) for t in out] == [
        ("/a", 200, Status.OK), ("/b", 404, Status.ERROR), ("/c", 500, Status.ERROR)]
    assert [(t.start, t.end) for t in out] == [(1.0, 5.0), (2.0, 6.0), (3.0, 7.0)]


def test_transaction_carries_both_wire_sizes() -> None:
    c = correlator()
    request_msg, response_msg = req("/", 1.0), resp(200, 2.0, body=b"hello")
    c.on_message(Direction.REQUEST, request_msg, 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, response_msg, 2.0)
    assert (txn.request_bytes, txn.response_bytes) == (len(request_msg.raw_headers),
                                                       len(response(200, "X", body=b"hello")))
    assert (txn.error, txn.status) == (None, Status.OK)


def test_response_without_request_is_unmatched() -> None:
    counts: Counter[str] = Counter()
    (txn,) = correlator(counts).on_message(Direction.RESPONSE, resp(404, 3.0), 3.0)
    assert (txn.request, txn.status, txn.error) == (None, Status.ERROR, "Unmatched response")
    assert (txn.start, txn.end) == (3.0, 3.0)
    assert counts["unmatched_responses"] == 1


def test_interim_response_is_dropped_and_counted() -> None:
    counts: Counter[str] = Counter()
    c = correlator(counts)
    assert c.on_message(Direction.RESPONSE, resp(100, 1.0), 1.0) == []
    c.on_message(Direction.REQUEST, req("/upload", 1.5), 1.5)
    (txn,) = c.on_message(Direction.RESPONSE, resp(201, 2.0), 2.0)
    assert (txn.request.target, txn.response.status_code, txn.status) == ("/upload", 201, Status.OK)
    assert counts["interim_responses"] == 1


def test_requests_expire_only_when_the_connection_is_idle() -> None:
    c = correlator(timeout=10.0)
    c.on_message(Direction.REQUEST, req("/slow", 1.0), 1.0)
    c.on_message(Direction.REQUEST, req("/next", 8.0), 8.0)
    assert c.expire(15.0) == []  # last activity at 8.0
    out = c.expire(18.5)
    assert [(t.request.target, t.error, t.status) for t in out] == [
        ("/slow", "Unmatched request", Status.ERROR), ("/next", "Unmatched request", Status.ERROR)]
    assert c.expire(100.0) == []


def test_close_flushes_pending_requests() -> None:
    counts: Counter[str] = Counter()
    c = correlator(counts)
    c.on_message(Direction.REQUEST, req("/a", 1.0), 1.0)
    (txn,) = c.close(2.0)
    assert (txn.response, txn.error, txn.response_bytes) == (None, "Unmatched request", 0)
    assert counts["unmatched_requests"] == 1
    assert c.close(3.0) == []


def test_pending_limit_reports_the_oldest_request_as_unmatched() -> None:
    counts: Counter[str] = Counter()
    c = correlator(counts, max_pending=2)
    c.on_message(Direction.REQUEST, req("/1", 1.0), 1.0)
    c.on_message(Direction.REQUEST, req("/2", 2.0), 2.0)
    (dropped,) = c.on_message(Direction.REQUEST, req("/3", 3.0), 3.0)
    assert (dropped.request.target, dropped.error) == ("/1", "Unmatched request")
    assert counts["pending_requests_overflow"] == 1
    (txn,) = c.on_message(Direction.RESPONSE, resp(200, 4.0), 4.0)
    assert txn.request.target == "/2"


def test_host_port_mismatch_is_noted() -> None:
    c = correlator()
    c.on_message(Direction.REQUEST, req("/", 1.0, host="example.com:9999"), 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, resp(200, 2.0), 2.0)
    assert txn.error == HOST_PORT_MISMATCH
    assert txn.status == Status.OK  # a note, not a failure


def test_several_notes_are_kept_apart() -> None:
    c = correlator()
    c.on_message(Direction.REQUEST, req("/", 1.0, host="example.com:1"), 1.0)
    (txn,) = c.close(2.0)
    assert txn.error_messages == ("Unmatched request", HOST_PORT_MISMATCH)
    assert txn.error == "Unmatched request; Host header port number mismatch"


def test_gaps_are_reported_on_the_next_transaction() -> None:
    c = correlator()
    c.note_gap(Direction.RESPONSE, 100, 1.0)
    c.on_message(Direction.REQUEST, req("/", 1.0), 1.0)
    (first,) = c.on_message(Direction.RESPONSE, resp(200, 2.0), 2.0)
    c.on_message(Direction.REQUEST, req("/", 3.0), 3.0)
    (second,) = c.on_message(Direction.RESPONSE, resp(200, 4.0), 4.0)
    assert (first.gaps, second.gaps) == (1, 0)
