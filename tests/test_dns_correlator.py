"""Pairing DNS queries with responses: by id and question, timeouts, duplicates, orphans, limits."""

from __future__ import annotations

import dns_wire as w
from packetshipper.modules.dns.correlator import (
    DUPLICATE_QUERY,
    NO_RESPONSE,
    NON_EDNS_TOO_LARGE,
    ORPHANED_RESPONSE,
    QUESTION_MISMATCH,
    RESPONDER_NO_EDNS,
    TOO_MANY_PENDING,
    UNEXPECTED_EDNS,
    DnsCorrelator,
)
from packetshipper.modules.dns.messages import DnsMessage
from packetshipper.modules.dns.parser import parse_message
from packetshipper.protocol import Connection, Direction, Endpoint, Status

UDP = Connection("udp", 4, Endpoint("192.0.2.10", 50000), Endpoint("192.0.2.53", 53))
TCP = Connection("tcp", 4, Endpoint("192.0.2.10", 50000), Endpoint("192.0.2.53", 53))


def query(ident: int, qname: str = "example.com", ts: float = 0.0, extra: tuple[bytes, ...] = ()) -> DnsMessage:
    return parse_message(w.query(qname, ident=ident, extra=extra), ts)


def response(ident: int, qname: str = "example.com", ts: float = 0.0, rcode: int = 0, extra: tuple[bytes, ...] = (),
             answers: tuple[bytes, ...] = ()) -> DnsMessage:  # fmt: skip
    data = w.message(ident, w.flags(qr=True, rd=True, ra=True, rcode=rcode), [w.question(qname)], answers, (), extra)
    return parse_message(data, ts)


class Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def make(connection: Connection = UDP, timeout: float = 10.0, max_pending: int = 100) -> tuple[DnsCorrelator, Counter]:
    counter = Counter()
    return DnsCorrelator(connection, timeout, max_pending, counter), counter


def test_response_completes_the_query_with_the_same_id() -> None:
    c, counter = make()
    q, r = query(7, ts=1.0), response(7, ts=1.25)
    assert c.on_message(Direction.REQUEST, q, 1.0) == []
    (txn,) = c.on_message(Direction.RESPONSE, r, 1.25)
    assert (txn.request, txn.response, txn.start, txn.end) == (q, r, 1.0, 1.25)
    assert (txn.request_bytes, txn.response_bytes) == (q.length, r.length)
    assert (txn.status, txn.error, txn.notes) == (Status.OK, None, ())
    assert c.pending == 0 and counter.counts == {}


def test_responses_out_of_order_match_their_own_queries() -> None:
    c, _ = make()
    c.on_message(Direction.REQUEST, query(1, "a.example"), 0.0)
    c.on_message(Direction.REQUEST, query(2, "b.example"), 0.0)
    (second,) = c.on_message(Direction.RESPONSE, response(2, "b.example"), 0.1)
    (first,) = c.on_message(Direction.RESPONSE, response(1, "a.example"), 0.2)
    assert (second.request.header.id, first.request.header.id) == (2, 1)


def test_question_compares_case_insensitively() -> None:
    c, _ = make()
    c.on_message(Direction.REQUEST, query(1, "Example.COM"), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1, "example.com"), 0.1)
    assert txn.status is Status.OK


def test_nxdomain_is_an_error_transaction() -> None:
    c, _ = make()
    c.on_message(Direction.REQUEST, query(1), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1, rcode=3), 0.1)
    assert txn.status is Status.ERROR and txn.error is None


def test_response_for_another_question_does_not_complete_the_query() -> None:
    c, counter = make()
    c.on_message(Direction.REQUEST, query(1, "bank.example"), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1, "evil.example"), 0.1)
    assert (txn.request, txn.status, txn.error) == (None, Status.ERROR, QUESTION_MISMATCH)
    assert c.pending == 1 and counter.counts == {"mismatched_responses": 1}


def test_orphaned_response() -> None:
    c, counter = make()
    r = response(9, ts=3.0)
    (txn,) = c.on_message(Direction.RESPONSE, r, 3.0)
    assert (txn.request, txn.response, txn.start, txn.end) == (None, r, 3.0, 3.0)
    assert (txn.status, txn.error, txn.request_bytes, txn.response_bytes) == (Status.ERROR, ORPHANED_RESPONSE, 0, r.length)
    assert counter.counts == {"unmatched_responses": 1}


def test_unanswered_query_expires_after_the_timeout_as_an_error() -> None:
    c, counter = make(timeout=10.0)
    q = query(1, ts=100.0)
    c.on_message(Direction.REQUEST, q, 100.0)
    assert c.expire(109.9) == []
    (txn,) = c.expire(110.0)
    assert (txn.request, txn.response, txn.status, txn.error) == (q, None, Status.ERROR, NO_RESPONSE)
    assert (txn.start, txn.end, txn.request_bytes) == (100.0, 100.0, q.length)
    assert c.pending == 0 and counter.counts == {"unmatched_queries": 1}
    assert c.expire(200.0) == []


def test_expire_takes_only_the_old_queries() -> None:
    c, _ = make(timeout=5.0)
    c.on_message(Direction.REQUEST, query(1, ts=0.0), 0.0)
    c.on_message(Direction.REQUEST, query(2, ts=4.0), 4.0)
    assert [t.request.header.id for t in c.expire(6.0)] == [1]
    assert c.pending == 1


def test_second_query_with_the_same_id_closes_the_first() -> None:
    c, counter = make()
    first = query(5, ts=0.0)
    c.on_message(Direction.REQUEST, first, 0.0)
    (closed,) = c.on_message(Direction.REQUEST, query(5, ts=1.0), 1.0)
    assert (closed.request, closed.status, closed.error) == (first, Status.ERROR, DUPLICATE_QUERY)
    assert c.pending == 1 and counter.counts == {"duplicate_queries": 1}


def test_pending_queries_are_bounded_and_the_oldest_is_closed() -> None:
    c, counter = make(max_pending=2)
    for ident in (1, 2):
        assert c.on_message(Direction.REQUEST, query(ident), 0.0) == []
    (closed,) = c.on_message(Direction.REQUEST, query(3), 0.0)
    assert (closed.request.header.id, closed.error) == (1, TOO_MANY_PENDING)
    assert c.pending == 2 and counter.counts == {"pending_queries_evicted": 1}


def test_close_returns_every_pending_query() -> None:
    c, _ = make()
    c.on_message(Direction.REQUEST, query(1), 0.0)
    c.on_message(Direction.REQUEST, query(2), 0.0)
    assert sorted(t.request.header.id for t in c.close(1.0)) == [1, 2]
    assert c.pending == 0


def test_qr_bit_decides_not_the_packet_direction() -> None:
    c, _ = make()
    c.on_message(Direction.RESPONSE, query(1), 0.0)
    (txn,) = c.on_message(Direction.REQUEST, response(1), 0.1)
    assert txn.status is Status.OK


def test_edns_mismatch_notes_over_udp() -> None:
    c, _ = make()
    c.on_message(Direction.REQUEST, query(1, extra=(w.opt(),)), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1), 0.1)
    assert txn.notes == (RESPONDER_NO_EDNS,)
    c.on_message(Direction.REQUEST, query(2), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(2, extra=(w.opt(),)), 0.1)
    assert txn.notes == (UNEXPECTED_EDNS,)


def test_large_udp_response_without_edns_is_noted() -> None:
    c, _ = make()
    big = tuple(w.rr("example.com", w.TXT, w.character_strings(b"x" * 200)) for _ in range(3))
    c.on_message(Direction.REQUEST, query(1), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1, answers=big), 0.1)
    assert txn.response.length > 512
    assert txn.notes == ("Response: " + NON_EDNS_TOO_LARGE,)


def test_no_edns_notes_over_tcp() -> None:
    c, _ = make(TCP)
    c.on_message(Direction.REQUEST, query(1, extra=(w.opt(),)), 0.0)
    (txn,) = c.on_message(Direction.RESPONSE, response(1), 0.1)
    assert txn.notes == ()


def test_later_messages_of_a_tcp_zone_transfer_are_counted_not_orphaned() -> None:
    c, counter = make(TCP)
    axfr_query = parse_message(w.message(0, 0, [w.question("etas.com", 252)]), 0.0)
    axfr_part = parse_message(w.message(0, w.flags(qr=True), [w.question("etas.com", 252)]), 0.1)
    c.on_message(Direction.REQUEST, axfr_query, 0.0)
    assert len(c.on_message(Direction.RESPONSE, axfr_part, 0.1)) == 1
    assert c.on_message(Direction.RESPONSE, axfr_part, 0.2) == []
    assert c.on_message(Direction.RESPONSE, axfr_part, 0.3) == []
    assert counter.counts == {"zone_transfer_messages": 2}


def test_a_second_response_to_an_ordinary_query_is_an_orphan() -> None:
    c, counter = make(TCP)
    c.on_message(Direction.REQUEST, query(0, "etas.com"), 0.0)
    c.on_message(Direction.RESPONSE, response(0, "etas.com"), 0.1)
    (orphan,) = c.on_message(Direction.RESPONSE, response(0, "etas.com"), 0.2)
    assert orphan.error == ORPHANED_RESPONSE and counter.counts == {"unmatched_responses": 1}
