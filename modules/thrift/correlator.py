"""Pairs calls and replies of one connection: a reply answers the oldest pending call of the same
method (and sequence id, when it matches one). ONEWAY calls are transactions of their own."""

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

from .messages import ONEWAY, ThriftMessage

__all__ = ["ThriftCorrelator"]

Count = Callable[..., None]


def has_exception(reply: ThriftMessage) -> bool:
    return reply.kind == 3 or any(fid != 0 for fid, _ in reply.fields[:1])


class ThriftCorrelator(Correlator):
    def __init__(self, connection: Connection, *, max_pending: int, timeout: float, count: Count) -> None:
        self._connection = connection
        self._max_pending = max_pending
        self._timeout = timeout
        self._count = count
        self._pending: deque[ThriftMessage] = deque()

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if not isinstance(message, ThriftMessage):
            raise TypeError(f"not a thrift message: {type(message).__name__}")
        if message.kind == ONEWAY:
            return [self._transaction(message, None)]
        if message.is_request:
            out = []
            if len(self._pending) >= self._max_pending:
                self._count("pending_requests_overflow")
                out.append(self._unanswered(self._pending.popleft()))
            self._pending.append(message)
            return out
        return self._on_reply(message)

    def _on_reply(self, reply: ThriftMessage) -> list[Transaction[Any, Any]]:
        same = [call for call in self._pending if call.method == reply.method]
        match = next((call for call in same if call.seqid == reply.seqid), same[0] if same else None)
        if match is None:
            self._count("unmatched_responses")
            return [self._transaction(None, reply, error=UNMATCHED_RESPONSE)]
        out = []
        while self._pending:  # calls before the answered one got no reply: oneway, as Packetbeat assumes
            call = self._pending.popleft()
            if call is match:
                break
            self._count("assumed_oneway")
            out.append(self._transaction(call, None))
        out.append(self._transaction(match, reply))
        return out

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out = []
        while self._pending and self._pending[0].ts <= now - self._timeout:
            out.append(self._unanswered(self._pending.popleft()))
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out = [self._unanswered(call) for call in self._pending]
        self._pending.clear()
        return out

    def _unanswered(self, call: ThriftMessage) -> Transaction[Any, Any]:
        self._count("unmatched_requests")
        return self._transaction(call, None, error=UNMATCHED_REQUEST)

    def _transaction(self, call: ThriftMessage | None, reply: ThriftMessage | None, *,
                     error: str | None = None) -> Transaction[Any, Any]:
        first = call if call is not None else reply
        assert first is not None
        failed = error is not None or (reply is not None and has_exception(reply))
        return Transaction(
            connection=self._connection, request=call, response=reply, start=first.ts,
            end=reply.ts if reply is not None else first.ts,
            request_bytes=call.size if call is not None else 0,
            response_bytes=reply.size if reply is not None else 0,
            status=Status.ERROR if failed else Status.OK, error=error,
        )
