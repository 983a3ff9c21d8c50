"""AMQP transactions as Packetbeat forms them.

- A synchronous method waits for its `-ok` answer on the same channel (a bounded FIFO per connection).
- A method sent with no-wait, and basic.ack/nack/reject, is published at once: no answer will come.
- Content is published as it completes: basic.publish from the client; basic.deliver and basic.return
  from the server; basic.get-ok completes the waiting basic.get (the event is `basic.get`).
- connection.close and channel.close with a reply code of 300 or more are errors; when no close-ok
  comes they are published at expiry with a note. Other requests that never get an answer are
  dropped at expiry (as Packetbeat does) and counted. With hide_connection_information, closes that
  are no error are left out too, as the set-up methods are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import field
from typing import Any

from packetshipper.protocol import Connection, Correlator, Direction, Status, Transaction
from packetshipper.records import record

from .messages import AmqpMessage
from .methods import CONNECTION_INFO, RESPONSES

__all__ = ["AmqpCorrelator", "Exchange", "CLOSE_NOT_ACKED"]

CLOSE_NOT_ACKED = "Close-ok method not received by sender"
_ASYNC = frozenset({"basic.ack", "basic.nack", "basic.reject"})
_DELIVERIES = frozenset({"basic.deliver", "basic.return"})


@record
class Exchange:
    """One published AMQP transaction."""

    method: str
    request: AmqpMessage | None
    response: AmqpMessage | None
    from_client: bool  # who sent the request (or the content)
    fields: dict[str, Any] = field(default_factory=dict)


def is_error(method: str, fields: dict[str, Any]) -> bool:
    return method in ("basic.return", "basic.reject") or _close_error(method, fields)


def _close_error(method: str, fields: dict[str, Any]) -> bool:
    return method in ("connection.close", "channel.close") and int(fields.get("reply-code") or 0) >= 300


def _clean_close(method: str, fields: dict[str, Any]) -> bool:
    """A close that is no error (reply code under 300): hidden with the connection information."""
    return method in ("connection.close", "channel.close") and int(fields.get("reply-code") or 0) < 300


class AmqpCorrelator(Correlator):
    def __init__(self, connection: Connection, timeout: float, hide_connection_information: bool,
                 max_pending: int, count: Callable[[str], None]) -> None:
        self.connection = connection
        self.timeout = timeout
        self.hide = hide_connection_information
        self.max_pending = max_pending
        self.count = count
        self.pending: deque[tuple[AmqpMessage, bool]] = deque()

    def _txn(self, exchange: Exchange, start: float, end: float, error: str | None = None) -> Transaction[Any, Any]:
        status = Status.ERROR if is_error(exchange.method, exchange.fields) else Status.OK
        req = exchange.request.wire_bytes if exchange.request is not None else 0
        resp = exchange.response.wire_bytes if exchange.response is not None else 0
        return Transaction(self.connection, exchange, exchange.response, start, end, request_bytes=req,
                           response_bytes=resp, status=status, error=error)

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        assert isinstance(message, AmqpMessage)
        from_client = direction is Direction.REQUEST
        name = message.method
        if self.hide and (name in CONNECTION_INFO or _clean_close(name, message.arguments)):
            return []
        if name == "basic.publish" or name in _DELIVERIES:
            content = {**message.arguments, **message.properties}
            return [self._txn(Exchange(name, message, None, from_client, content), message.ts, message.ts)]
        if name in RESPONSES or name == "basic.get-ok":
            return self._answer(message, from_client)
        args = message.arguments
        if args.get("no-wait") is True or name in _ASYNC:
            return [self._txn(Exchange(name, message, None, from_client, dict(args)), message.ts, message.ts)]
        if len(self.pending) >= self.max_pending:
            self.pending.popleft()
            self.count("pending_requests_overflow")
        self.pending.append((message, from_client))
        return []

    def _answer(self, message: AmqpMessage, from_client: bool) -> list[Transaction[Any, Any]]:
        for index, (request, request_from_client) in enumerate(self.pending):
            if request.channel == message.channel and request_from_client != from_client:
                del self.pending[index]
                break
        else:
            self.count("unmatched_responses")
            return []
        name = request.method
        if message.method == "basic.get-empty":
            name = "basic.get-empty"
        fields = {**request.arguments, **message.arguments, **message.properties}
        exchange = Exchange(name, request, message, request_from_client, fields)
        return [self._txn(exchange, request.ts, message.ts)]

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        while self.pending and self.pending[0][0].ts + self.timeout <= now:
            out += self._expired(*self.pending.popleft())
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        while self.pending:
            out += self._expired(*self.pending.popleft())
        return out

    def _expired(self, request: AmqpMessage, from_client: bool) -> list[Transaction[Any, Any]]:
        if _close_error(request.method, request.arguments):
            exchange = Exchange(request.method, request, None, from_client, dict(request.arguments))
            return [self._txn(exchange, request.ts, request.ts, CLOSE_NOT_ACKED)]
        self.count("unanswered_requests")
        return []
