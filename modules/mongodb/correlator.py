"""Pairs MongoDB requests and replies of one connection by requestID / responseTo.

Requests that get no reply (the legacy write opcodes, OP_KILL_CURSORS, OP_MSG with moreToCome) are
transactions on their own. A reply with moreToCome (an exhaust cursor) announces more replies to the
same request: each becomes its own transaction.
"""

from __future__ import annotations

from collections import OrderedDict
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

from .messages import MongoMessage

__all__ = ["MongoCorrelator"]

Count = Callable[..., None]


class MongoCorrelator(Correlator):
    def __init__(self, connection: Connection, max_pending: int, timeout: float, count: Count) -> None:
        self._connection = connection
        self._max_pending = max_pending
        self._timeout = timeout
        self._count = count
        self._pending: OrderedDict[int, MongoMessage] = OrderedDict()  # requestID -> request, oldest first

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if not isinstance(message, MongoMessage):
            raise TypeError(f"not a mongodb message: {type(message).__name__}")
        if message.is_response:
            return self._on_reply(message)
        if not message.expects_reply:
            return [self._transaction(message, None)]
        out: list[Transaction[Any, Any]] = []
        earlier = self._pending.pop(message.request_id, None)
        if earlier is not None:
            self._count("duplicate_request_ids")
            out.append(self._unanswered(earlier))
        if len(self._pending) >= self._max_pending:
            self._count("pending_requests_overflow")
            out.append(self._unanswered(self._pending.popitem(last=False)[1]))
        self._pending[message.request_id] = message
        return out

    def _on_reply(self, reply: MongoMessage) -> list[Transaction[Any, Any]]:
        request = self._pending.pop(reply.response_to, None)
        if request is None:
            self._count("unmatched_responses")
            return [self._transaction(None, reply, error=UNMATCHED_RESPONSE)]
        if reply.more_to_come:  # the next reply of this exhaust cursor answers this one's requestID
            self._pending[reply.request_id] = request
        return [self._transaction(request, reply)]

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        deadline = now - self._timeout
        while self._pending:
            request = next(iter(self._pending.values()))
            if request.ts > deadline:
                break
            self._pending.popitem(last=False)
            out.append(self._unanswered(request))
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out = [self._unanswered(request) for request in self._pending.values()]
        self._pending.clear()
        return out

    def _unanswered(self, request: MongoMessage) -> Transaction[Any, Any]:
        self._count("unmatched_requests")
        return self._transaction(request, None, error=UNMATCHED_REQUEST)

    def _transaction(self, request: MongoMessage | None, reply: MongoMessage | None, *,
                     error: str | None = None) -> Transaction[MongoMessage, MongoMessage]:
        notes = [*(request.notes if request else ()), *(reply.notes if reply else ())]
        if error:
            notes.append(error)
        first = request if request is not None else reply
        assert first is not None
        failed = error is not None or (reply is not None and reply.error is not None)
        return Transaction(
            connection=self._connection,
            request=request,
            response=reply,
            start=first.ts,
            end=reply.ts if reply is not None else first.ts,
            request_bytes=request.size if request is not None else 0,
            response_bytes=reply.size if reply is not None else 0,
            status=Status.ERROR if failed else Status.OK,
            error="; ".join(notes) or None,
        )
