"""Pairs HTTP/1.x requests and responses of one connection in order (pipelining included)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    Status,
    Transaction,
)
from packetshipper.records import record

from .event import HostFacts, host_facts
from .messages import HttpRequest, HttpResponse, header_value

HOST_PORT_MISMATCH = "Host header port number mismatch"


@record
class HttpTransaction(Transaction[HttpRequest, HttpResponse]):
    """A Transaction that also keeps each note apart (`error` joins them), for a list-valued error.message."""

    error_messages: tuple[str, ...] = ()


class HttpCorrelator(Correlator):
    """Requests wait in arrival order; each final response takes the oldest. Interim (1xx) responses
    such as 100 Continue are counted and dropped: the final response to the same request follows."""

    def __init__(self, connection: Connection, max_pending: int, timeout: float,
                 count: Callable[[str], None], facts: HostFacts = host_facts) -> None:
        self._connection = connection
        self._host_facts = facts
        self._max_pending = max_pending
        self._timeout = timeout
        self._count = count
        self._pending: deque[HttpRequest] = deque()
        self._last_seen = float("-inf")
        self._gaps = 0

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if ts > self._last_seen:
            self._last_seen = ts
        if isinstance(message, HttpRequest):
            out: list[Transaction[Any, Any]] = []
            if len(self._pending) >= self._max_pending:
                self._count("pending_requests_overflow")
                out.append(self._transaction(self._pending.popleft(), None))
            self._pending.append(message)
            return out
        if not isinstance(message, HttpResponse):
            raise TypeError(f"not an HTTP message: {type(message).__name__}")
        if message.is_interim:
            self._count("interim_responses")
            return []
        if not self._pending:
            self._count("unmatched_responses")
            return [self._transaction(None, message)]
        return [self._transaction(self._pending.popleft(), message)]

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        # Like Packetbeat, give up on a connection's requests only once it has been idle for the
        # timeout: expiring one pipelined request early would shift every later pairing.
        if self._pending and now - self._last_seen > self._timeout:
            return self._flush()
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        return self._flush()

    def note_gap(self, direction: Direction, nbytes: int, ts: float) -> None:
        self._gaps += 1

    def _flush(self) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = [self._transaction(request, None) for request in self._pending]
        self._pending.clear()
        return out

    def _transaction(self, request: HttpRequest | None, response: HttpResponse | None) -> HttpTransaction:
        if request is not None and response is not None and not request.notes and not response.notes:
            host = header_value(request.headers, "host")
            if host is None or ":" not in host:  # the usual pair: nothing to note
                gaps, self._gaps = self._gaps, 0
                return HttpTransaction(
                    connection=self._connection, request=request, response=response, start=request.ts,
                    end=response.ts, request_bytes=request.size, response_bytes=response.size,
                    status=Status.ERROR if response.status_code >= 400 else Status.OK, error=None, gaps=gaps,
                    error_messages=(), notes=(),
                )
        notes: list[str] = []
        # What the parsers noticed (packet loss, a trimmed body, a connection closed early) is also
        # Packetbeat's `notes`; pairing problems (unmatched) are only error.message.
        parser_notes = (request.notes if request is not None else ()) + (response.notes if response is not None else ())
        if request is not None:
            notes.extend(request.notes)
            if response is None:
                self._count("unmatched_requests")
                notes.append(UNMATCHED_REQUEST)
            host = request.header("host") or ""
            if ":" in host:  # only a colon brings a port
                _, port, _ = self._host_facts(host)
                if port and port != self._connection.server.port:
                    notes.append(HOST_PORT_MISMATCH)
        if response is not None:
            notes.extend(response.notes)
            if request is None:
                notes.append(UNMATCHED_RESPONSE)
        failed = request is None or response is None or response.status_code >= 400
        first = request if request is not None else response
        assert first is not None
        gaps, self._gaps = self._gaps, 0
        return HttpTransaction(
            connection=self._connection,
            request=request,
            response=response,
            start=first.ts,
            # Packetbeat's event.end (and so event.duration) is the response's first byte.
            end=response.ts if response is not None else first.end_ts,
            request_bytes=request.size if request is not None else 0,
            response_bytes=response.size if response is not None else 0,
            status=Status.ERROR if failed else Status.OK,
            error="; ".join(notes) or None,
            gaps=gaps,
            error_messages=tuple(notes),
            notes=parser_notes,
        )
