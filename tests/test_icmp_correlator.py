"""Pairing ICMP requests and replies for one address pair, as Packetbeat's icmp does."""

from __future__ import annotations

from packetshipper.modules.icmp.correlator import (
    DUPLICATE_REQUEST,
    ORPHANED_REQUEST,
    ORPHANED_RESPONSE,
    IcmpCorrelator,
)
from packetshipper.modules.icmp.messages import IcmpMessage
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)

A, B = Endpoint("10.0.0.1", 0), Endpoint("10.0.0.2", 0)
CONN = Connection("icmp", 4, A, B, connection_id=7)


def echo(icmp_type: int, seq: int = 1, ident: int = 5) -> IcmpMessage:
    return IcmpMessage(4, icmp_type, 0, ident, seq, 4)


def correlator(max_pending: int = 100) -> tuple[IcmpCorrelator, list[str]]:
    counted: list[str] = []
    return IcmpCorrelator(CONN, 10.0, max_pending, counted.append), counted


def test_a_reply_completes_its_request() -> None:
    c, _ = correlator()
    assert c.on_message(Direction.REQUEST, echo(8), 1.0) == []
    (txn,) = c.on_message(Direction.RESPONSE, echo(0), 1.5)
    assert (txn.request, txn.response) == (echo(8), echo(0))
    assert (txn.start, txn.end, txn.status) == (1.0, 1.5, Status.OK)
    assert (txn.request_bytes, txn.response_bytes) == (4, 4)
    assert txn.connection.client == A


def test_the_requester_is_the_client_even_when_the_core_guessed_the_other_way() -> None:
    c, _ = correlator()
    c.on_message(Direction.RESPONSE, echo(8), 1.0)  # B pings A
    (txn,) = c.on_message(Direction.REQUEST, echo(0), 1.2)
    assert txn.connection.client == B and txn.connection.server == A


def test_a_reply_must_match_identifier_and_sequence() -> None:
    c, counted = correlator()
    c.on_message(Direction.REQUEST, echo(8, seq=1), 1.0)
    (txn,) = c.on_message(Direction.RESPONSE, echo(0, seq=2), 1.1)
    assert txn.request is None and txn.status is Status.ERROR
    assert txn.error == UNMATCHED_RESPONSE and txn.notes == (ORPHANED_RESPONSE,)
    assert txn.connection.client == A  # oriented towards whoever would have asked
    assert counted == ["unmatched_responses"]


def test_a_repeated_request_closes_the_earlier_one() -> None:
    c, counted = correlator()
    c.on_message(Direction.REQUEST, echo(8), 1.0)
    (dup,) = c.on_message(Direction.REQUEST, echo(8), 1.1)
    assert dup.start == 1.0 and dup.error == UNMATCHED_REQUEST and dup.notes == (DUPLICATE_REQUEST,)
    (txn,) = c.on_message(Direction.RESPONSE, echo(0), 1.3)
    assert txn.start == 1.1 and txn.status is Status.OK
    assert counted == ["duplicate_requests", "unmatched_requests"]


def test_unanswered_requests_expire_after_the_timeout() -> None:
    c, _ = correlator()
    c.on_message(Direction.REQUEST, echo(8, seq=1), 1.0)
    c.on_message(Direction.REQUEST, echo(8, seq=2), 5.0)
    assert c.expire(10.5) == []
    (txn,) = c.expire(11.5)
    assert txn.request == echo(8, seq=1) and txn.notes == (ORPHANED_REQUEST,)
    assert [t.request for t in c.close(12.0)] == [echo(8, seq=2)]


def test_error_messages_are_transactions_of_their_own_with_status_error() -> None:
    c, _ = correlator()
    unreachable = IcmpMessage(4, 3, 3, 0, 0, 28)
    (txn,) = c.on_message(Direction.RESPONSE, unreachable, 2.0)
    assert txn.request == unreachable and txn.response is None
    assert txn.status is Status.ERROR and txn.error is None
    assert txn.connection.client == B
    advert = IcmpMessage(4, 9, 0, 0, 0, 8)
    (txn,) = c.on_message(Direction.REQUEST, advert, 2.1)
    assert txn.status is Status.OK


def test_pending_requests_are_bounded_and_the_oldest_reported() -> None:
    c, counted = correlator(max_pending=2)
    c.on_message(Direction.REQUEST, echo(8, seq=1), 1.0)
    c.on_message(Direction.REQUEST, echo(8, seq=2), 1.1)
    (oldest,) = c.on_message(Direction.REQUEST, echo(8, seq=3), 1.2)
    assert oldest.request == echo(8, seq=1) and oldest.error == UNMATCHED_REQUEST
    assert "pending_over_limit" in counted and len(c.pending) == 2
