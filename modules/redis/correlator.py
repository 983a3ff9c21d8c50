"""Pairs Redis commands with replies in order; recognises pub/sub pushes, which answer no command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.message_queue import MessageQueue
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

from .messages import RedisRequest, RedisResponse

__all__ = ["RedisCorrelator", "RedisTransaction"]

# RESP2 pub/sub messages (arrays, on a subscribed connection) and the replies confirming (un)subscribing.
MESSAGE_KINDS = frozenset({b"message", b"pmessage", b"smessage"})
CONFIRMATION_KINDS = frozenset({b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe",
                                b"ssubscribe", b"sunsubscribe"})
_SUBSCRIBING = frozenset({b"subscribe", b"psubscribe", b"ssubscribe"})

TRUNCATED = "{} longer than max_message_size: the rest was counted, not kept"
PACKET_LOSS = "{} has bytes lost inside a value (packet loss)"
NO_REPLY_EXPECTED = "no reply expected (CLIENT REPLY OFF or SKIP)"


@record
class RedisTransaction(Transaction[RedisRequest, RedisResponse]):
    """`push` is the kind of a pub/sub or RESP3 push (`message`, `invalidate`), which has no request."""

    push: str | None = None


class RedisCorrelator(Correlator):
    """Commands wait in a bounded queue (Packetbeat's `queue_max_messages` / `queue_max_bytes`); each
    reply takes the oldest. A command evicted from a full queue is published unanswered, and the reply
    that later comes for it is dropped (counted) so the pairing of the commands after it stays right."""

    def __init__(self, connection: Connection, queue: MessageQueue[RedisRequest], timeout: float,
                 count: Callable[..., None], *, include_pushes: bool) -> None:
        self._connection = connection
        self._queue = queue
        self._timeout = timeout
        self._count = count
        self._include_pushes = include_pushes
        self._owed = 0  # replies still to come for evicted commands
        self._subscribed = False
        self._absorb_kind: bytes | None = None  # further confirmations of one (UN)SUBSCRIBE
        self._absorb_left = 0  # how many; -1: until the subscription count reaches 0
        self._last_seen = float("-inf")
        self._gaps = 0
        self._replies_off = False  # CLIENT REPLY OFF: commands get no reply until CLIENT REPLY ON
        self._skip_next = False  # CLIENT REPLY SKIP: the next command gets none

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        self._last_seen = max(self._last_seen, ts)
        if isinstance(message, RedisRequest):
            if self._unanswered(message):
                return [self._transaction(message, None, silent=True)]
            evicted = self._queue.append(message)
            if evicted:
                self._count("requests_evicted", len(evicted))
                self._owed += len(evicted)
            return [self._transaction(request, None) for request in evicted]
        if not isinstance(message, RedisResponse):
            raise TypeError(f"not a Redis message: {type(message).__name__}")
        push = self._push_kind(message)
        if push is not None:
            return self._push(message, push)
        if self._owed:
            self._owed -= 1
            self._count("replies_to_evicted_requests")
            return []
        if not len(self._queue):
            self._count("unmatched_responses")
            return [self._transaction(None, message)]
        return [self._transaction(self._queue.popleft(), message)]

    def _unanswered(self, request: RedisRequest) -> bool:
        """Whether the server sends no reply to this command (CLIENT REPLY OFF / SKIP are in force)."""
        if request.method == "CLIENT REPLY":
            mode = (request.resource or b"").upper()
            if mode == b"ON":
                self._replies_off = self._skip_next = False
                return False  # answered with +OK
            if mode == b"OFF":
                self._replies_off = True
                return True
            if mode == b"SKIP":
                skipped_already = self._replies_off
                self._skip_next = not skipped_already
                return True
            return False  # a syntax error, answered
        if self._replies_off:
            return True
        if self._skip_next:
            self._skip_next = False
            return True
        return False

    # --- pub/sub ------------------------------------------------------------------------------------
    def _push_kind(self, message: RedisResponse) -> bytes | None:
        """The kind of a push (`message`, `subscribe`, `invalidate`...), or None for a plain reply."""
        if message.kind == ">":
            return message.head[0].lower() if message.head else b""
        if message.kind != "*" or not message.head or message.count not in (3, 4):
            return None
        kind = message.head[0].lower()
        if kind in MESSAGE_KINDS and (self._subscribed or not len(self._queue)):
            return kind
        if kind in CONFIRMATION_KINDS and message.count == 3:
            pending = self._queue.peek()
            if self._subscribed or self._absorb_kind == kind or (
                    pending is not None and pending.method.lower().encode() == kind):
                return kind
        return None

    def _push(self, message: RedisResponse, kind: bytes) -> list[Transaction[Any, Any]]:
        if kind in CONFIRMATION_KINDS:
            self._track_subscriptions(kind, message)
            if self._absorb_kind == kind and self._absorb_left:
                if self._absorb_left > 0:
                    self._absorb_left -= 1
                elif _subscription_count(message) == 0:
                    self._absorb_left = 0
            else:
                pending = self._queue.peek()
                if pending is not None and pending.method.lower().encode() == kind:
                    request = self._queue.popleft()
                    channels = request.argc - 1
                    self._absorb_kind = kind
                    self._absorb_left = channels - 1 if channels > 0 else (
                        -1 if _subscription_count(message) else 0)
                    return [self._transaction(request, message)]
        self._count("pushes")
        if not self._include_pushes:
            return []
        return [self._transaction(None, message, push=kind.decode("utf-8", "backslashreplace"))]

    def _track_subscriptions(self, kind: bytes, message: RedisResponse) -> None:
        remaining = _subscription_count(message)
        if kind in _SUBSCRIBING:
            self._subscribed = True
        elif remaining == 0:
            self._subscribed = False

    # --- time ---------------------------------------------------------------------------------------
    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        # Give up only once the connection has been idle for the timeout: expiring one pipelined
        # command early would shift every later pairing.
        if len(self._queue) and now - self._last_seen > self._timeout:
            self._owed = 0
            return self._flush()
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        return self._flush()

    def note_gap(self, direction: Direction, nbytes: int, ts: float) -> None:
        self._gaps += 1

    def _flush(self) -> list[Transaction[Any, Any]]:
        return [self._transaction(request, None) for request in self._queue.clear()]

    def _transaction(self, request: RedisRequest | None, response: RedisResponse | None, *,
                     push: str | None = None, silent: bool = False) -> RedisTransaction:
        notes: list[str] = [NO_REPLY_EXPECTED] if silent else []
        error: str | None = None
        status = Status.OK
        if silent:
            pass
        elif request is None and push is None:
            error = UNMATCHED_RESPONSE
        elif response is None:
            self._count("unmatched_requests")
            error = UNMATCHED_REQUEST
        elif response.is_error:
            error = response.text.decode("utf-8", "backslashreplace")
        if error is not None:
            status = Status.ERROR
        for what, message in (("request", request), ("response", response)):
            if message is not None and message.truncated:
                notes.append(TRUNCATED.format(what.capitalize()))
            if message is not None and message.gap:
                notes.append(PACKET_LOSS.format(what.capitalize()))
        first = request if request is not None else response
        assert first is not None
        gaps, self._gaps = self._gaps, 0
        return RedisTransaction(
            connection=self._connection,
            request=request,
            response=response,
            start=first.ts,
            end=response.ts if response is not None else first.ts,
            request_bytes=request.size if request is not None else 0,
            response_bytes=response.size if response is not None else 0,
            status=status,
            error=error,
            notes=tuple(notes),
            gaps=gaps,
            push=push,
        )


def _subscription_count(message: RedisResponse) -> int:
    """The third element of a (un)subscribe confirmation: subscriptions the client still has."""
    try:
        return int(message.head[2])
    except (IndexError, ValueError):
        return 0
