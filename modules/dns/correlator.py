"""Pairs DNS queries and responses of one UDP flow or TCP connection by DNS id and question."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from packetshipper.debuglog import endpoints
from packetshipper.protocol import Connection, Correlator, Direction, Status, Transaction

from .debug import DEBUG, message_text
from .messages import DnsMessage, Question

__all__ = [
    "DnsCorrelator",
    "NO_RESPONSE",
    "ORPHANED_RESPONSE",
    "DUPLICATE_QUERY",
    "QUESTION_MISMATCH",
    "TOO_MANY_PENDING",
    "NON_EDNS_TOO_LARGE",
    "RESPONDER_NO_EDNS",
    "UNEXPECTED_EDNS",
]

# Packetbeat's wording, so searches written for Packetbeat events keep working.
NO_RESPONSE = "No response to this query was received"
ORPHANED_RESPONSE = "Response: received without an associated Query"
DUPLICATE_QUERY = (
    "Another query with the same DNS ID from this client was received so this query was closed "
    "without receiving a response"
)
NON_EDNS_TOO_LARGE = "Non-EDNS packet has size greater than 512"
RESPONDER_NO_EDNS = "Responder does not support EDNS"
UNEXPECTED_EDNS = "Unexpected EDNS answer"
# Ours.
QUESTION_MISMATCH = "Response: its question does not match the pending query with the same DNS ID"
TOO_MANY_PENDING = "Closed without a response: too many queries in flight on this flow (max_pending_queries)"

MAX_UDP_WITHOUT_EDNS = 512
ZONE_TRANSFERS = frozenset({251, 252})  # IXFR, AXFR: one query, a stream of response messages (RFC 5936)

DnsTransaction: TypeAlias = Transaction[DnsMessage, DnsMessage]


def _same_question(query: DnsMessage, response: DnsMessage) -> bool:
    asked: Question | None = query.question
    answered: Question | None = response.question
    if asked is None or answered is None:  # error responses may leave the question out
        return True
    return (
        asked.qtype == answered.qtype
        and asked.qclass == answered.qclass
        and asked.name.lower() == answered.name.lower()
    )


class DnsCorrelator(Correlator):
    """Queries wait, keyed by DNS id, until their response, a newer query with that id, or the timeout.

    At most `max_pending` queries wait; a new one beyond that closes the oldest as an error.
    """

    def __init__(
        self,
        connection: Connection,
        transaction_timeout: float,
        max_pending: int,
        count: Callable[[str], None],
    ) -> None:
        self.connection = connection
        self.transaction_timeout = transaction_timeout
        self.max_pending = max_pending
        self._count = count
        self._pending: dict[int, DnsMessage] = {}  # insertion order is arrival order
        self._transfer: DnsMessage | None = None  # the zone transfer query answered last, if any

    @property
    def pending(self) -> int:
        return len(self._pending)

    def has_pending(self) -> bool:
        return bool(self._pending)

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        # The QR bit, not the packet direction, says which side a message is on.
        if message.header.response:
            return self._on_response(message)
        return self._on_query(message)

    def _on_query(self, query: DnsMessage) -> list[Transaction[Any, Any]]:
        closed: list[Transaction[Any, Any]] = []
        earlier = self._pending.pop(query.header.id, None)
        if earlier is not None:
            self._count("duplicate_queries")
            if DEBUG.enabled:
                self._debug("query %s repeated before any response: the earlier one is closed unanswered",
                            message_text(query))
            closed.append(self._unanswered(earlier, DUPLICATE_QUERY))
        if len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            self._count("pending_queries_evicted")
            evicted = self._pending.pop(oldest)
            if DEBUG.enabled:
                self._debug("more than max_pending_queries (%d) in flight: query %s is closed unanswered",
                            self.max_pending, message_text(evicted))
            closed.append(self._unanswered(evicted, TOO_MANY_PENDING))
        self._pending[query.header.id] = query
        return closed

    def _on_response(self, response: DnsMessage) -> list[Transaction[Any, Any]]:
        query = self._pending.get(response.header.id)
        if query is None:
            transfer = self._transfer
            if transfer is not None and transfer.header.id == response.header.id and _same_question(transfer, response):
                # Later messages of a zone transfer: the first one made the event; count the rest.
                self._count("zone_transfer_messages")
                if DEBUG.enabled:
                    self._debug("response %s continues a zone transfer: counted, no event of its own (dropped)",
                                message_text(response))
                return []
            self._count("unmatched_responses")
            if DEBUG.enabled:
                self._debug("response %s has no matching query: published alone, as Error", message_text(response))
            return [self._orphan(response, ORPHANED_RESPONSE)]
        if not _same_question(query, response):
            self._count("mismatched_responses")
            if DEBUG.enabled:
                self._debug("response %s does not answer the pending query with its id (%s): published alone, "
                            "as Error; the query still waits", message_text(response), message_text(query))
            return [self._orphan(response, QUESTION_MISMATCH)]
        del self._pending[response.header.id]
        asked = query.question
        if self.connection.transport == "tcp" and asked is not None and asked.qtype in ZONE_TRANSFERS:
            self._transfer = query
        notes = self._edns_notes(query, response)
        # connection, request, response, start, end, request_bytes, response_bytes, status, error, notes
        # (positional: once per answered query, and keywords cost a third more)
        return [Transaction(self.connection, query, response, query.ts, response.ts, query.length, response.length,
                            Status.OK if response.header.rcode == 0 else Status.ERROR, None, notes)]

    def _edns_notes(self, query: DnsMessage, response: DnsMessage) -> tuple[str, ...]:
        if self.connection.transport != "udp":
            return ()
        notes = []
        if query.edns is None and query.length > MAX_UDP_WITHOUT_EDNS:
            notes.append(NON_EDNS_TOO_LARGE)
        if response.edns is None and response.length > MAX_UDP_WITHOUT_EDNS:
            notes.append("Response: " + NON_EDNS_TOO_LARGE)
        if query.edns is not None and response.edns is None:
            notes.append(RESPONDER_NO_EDNS)
        elif query.edns is None and response.edns is not None:
            notes.append(UNEXPECTED_EDNS)
        return tuple(notes)

    def _debug(self, fmt: str, *args: object) -> None:
        """One `-d dns` line about this flow (callers test `DEBUG.enabled` before building `args`)."""
        DEBUG("%s: " + fmt, endpoints(self.connection), *args)

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        expired: list[Transaction[Any, Any]] = []
        deadline = now - self.transaction_timeout
        while self._pending:
            ident, query = next(iter(self._pending.items()))
            if query.ts > deadline:
                break
            del self._pending[ident]
            self._count("unmatched_queries")
            expired.append(self._unanswered(query, NO_RESPONSE))
        return expired

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        closed = []
        for query in self._pending.values():
            self._count("unmatched_queries")
            closed.append(self._unanswered(query, NO_RESPONSE))
        self._pending.clear()
        return closed

    def _unanswered(self, query: DnsMessage, why: str) -> DnsTransaction:
        return Transaction(
            connection=self.connection,
            request=query,
            response=None,
            start=query.ts,
            end=query.ts,
            request_bytes=query.length,
            status=Status.ERROR,
            error=why,
        )

    def _orphan(self, response: DnsMessage, why: str) -> DnsTransaction:
        return Transaction(
            connection=self.connection,
            request=None,
            response=response,
            start=response.ts,
            end=response.ts,
            response_bytes=response.length,
            status=Status.ERROR,
            error=why,
        )
