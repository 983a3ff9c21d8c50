"""Pairs requests and responses of one connection by stream id (spec 2.3: the response to a request
with stream id X has stream id X), so responses out of order still find their request.

Server pushes (EVENT, stream -1) are transactions without a request. Transactions where either side's
op is in `ignored_ops` are dropped (counted as `ignored`), as Packetbeat drops them.
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

from . import codes as c
from .messages import Frame

__all__ = ["CassandraCorrelator"]

Count = Callable[..., None]


class CassandraCorrelator(Correlator):
    def __init__(self, connection: Connection, *, max_pending: int, timeout: float,
                 ignored: frozenset[int], count: Count, on_close: Callable[[], None] | None = None) -> None:
        self._connection = connection
        self._on_close = on_close
        self._max_pending = max_pending
        self._timeout = timeout
        self._ignored = ignored
        self._count = count
        self._pending: OrderedDict[int, Frame] = OrderedDict()  # stream id -> request, oldest first

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if not isinstance(message, Frame):
            raise TypeError(f"not a cassandra frame: {type(message).__name__}")
        if message.is_response:
            return self._on_response(message)
        out: list[Transaction[Any, Any]] = []
        earlier = self._pending.pop(message.stream, None)
        if earlier is not None:
            self._count("duplicate_streams")
            out += self._unanswered(earlier)
        if len(self._pending) >= self._max_pending:
            self._count("pending_requests_overflow")
            out += self._unanswered(self._pending.popitem(last=False)[1])
        self._pending[message.stream] = message
        return out

    def _on_response(self, response: Frame) -> list[Transaction[Any, Any]]:
        if response.opcode == c.EVENT and response.stream < 0:
            return self._publish(None, response)
        request = self._pending.pop(response.stream, None)
        if request is None:
            self._count("unmatched_responses")
            return self._publish(None, response, error=UNMATCHED_RESPONSE)
        return self._publish(request, response)

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        deadline = now - self._timeout
        while self._pending:
            request = next(iter(self._pending.values()))
            if request.ts > deadline:
                break
            self._pending.popitem(last=False)
            out += self._unanswered(request)
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        for request in self._pending.values():
            out += self._unanswered(request)
        self._pending.clear()
        if self._on_close is not None:
            self._on_close()
        return out

    def _unanswered(self, request: Frame) -> list[Transaction[Any, Any]]:
        self._count("unmatched_requests")
        return self._publish(request, None, error=UNMATCHED_REQUEST)

    def _publish(self, request: Frame | None, response: Frame | None, *,
                 error: str | None = None) -> list[Transaction[Any, Any]]:
        if (request is not None and request.opcode in self._ignored) or (
                response is not None and response.opcode in self._ignored):
            self._count("ignored")
            return []
        notes = [*(request.notes if request else ()), *(response.notes if response else ())]
        # a frame reported from its header only (oversized, not decompressed, damaged) is partial data
        failed = bool(notes) or error is not None or (response is not None and response.opcode == c.ERROR)
        if response is not None and response.opcode == c.ERROR:
            detail = response.fields.get("error")
            if isinstance(detail, dict):
                notes.append(f"{detail.get('type')}: {detail.get('msg')}")
        if error:
            notes.append(error)
        first = request if request is not None else response
        assert first is not None
        return [Transaction(
            connection=self._connection,
            request=request,
            response=response,
            start=first.ts,
            end=response.ts if response is not None else first.ts,
            request_bytes=request.size if request is not None else 0,
            response_bytes=response.size if response is not None else 0,
            status=Status.ERROR if failed else Status.OK,
            error="; ".join(notes) or None,
        )]
