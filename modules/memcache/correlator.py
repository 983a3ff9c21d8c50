"""Pairs memcache requests and replies: in order over TCP, by the frame header's request id over UDP.

Binary replies also carry the request's opaque and opcode: a reply skips the pending quiet requests
before its own (the server answers a quiet request only on error, or a quiet get only on a hit), which
are published alone as OK. A request that expects no reply (noreply, quit, QuitQ) is published at once.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packetshipper.message_queue import MessageQueue
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    ProtocolError,
    Status,
    Transaction,
)

from . import codes as c
from .messages import McMessage, UdpFragment
from .parser import McStreamParser

__all__ = ["McTcpCorrelator", "McUdpCorrelator", "answers", "make_transaction"]

NO_RESPONSE_TO_NON_QUIET = "a later reply came first: this non-quiet request got no reply"

_CLIENT_ERRORS = frozenset({"CLIENT_ERROR", "SAME"})
_SERVER_ERRORS = frozenset({"SERVER_ERROR", "BUSY", "BADCLASS", "NOSPARE", "NOTFULL", "UNSAFE"})

Counter = Callable[..., None]


def _status(request: McMessage | None, response: McMessage | None) -> tuple[Status, str | None]:
    """Packetbeat's status for the pair, and what went wrong (for error.message)."""
    if request is None:
        return Status.CLIENT_ERROR, UNMATCHED_RESPONSE
    if response is None:
        if request.quiet or not request.expects_response:
            return Status.OK, None
        return Status.SERVER_ERROR, UNMATCHED_REQUEST
    if response.binary:
        code = response.status or 0
        if code == 0:
            return Status.OK, None
        return (Status.SERVER_ERROR if code > 0x80 else Status.ERROR), c.status_name(code)
    if response.type != c.FAIL:
        return Status.OK, None
    text = response.command + (" " + response.error_msg.decode("utf-8", "replace") if response.error_msg else "")
    if response.command in _CLIENT_ERRORS:
        return Status.CLIENT_ERROR, text
    if response.command in _SERVER_ERRORS:
        return Status.SERVER_ERROR, text
    return Status.ERROR, text


def make_transaction(connection: Connection, request: McMessage | None, response: McMessage | None,
                     notes: tuple[str, ...] = ()) -> Transaction[McMessage, McMessage]:
    status, error = _status(request, response)
    first = request if request is not None else response
    assert first is not None
    all_notes = notes + (request.notes if request else ()) + (response.notes if response else ())
    return Transaction(connection=connection, request=request, response=response, start=first.ts,
                       end=response.ts if response is not None else first.ts,
                       request_bytes=request.size if request is not None else 0,
                       response_bytes=response.size if response is not None else 0,
                       status=status, error=error, notes=all_notes)


def answers(request: McMessage, reply: McMessage) -> bool:
    """Whether `reply` is the answer to `request`, the oldest pending one; if not, the server skipped it.

    Binary replies carry the request's opaque and opcode. A quiet meta command (`q`) gets no reply on
    success, so a reply answers it if it carries its opaque (`O`) or its key (`k`); a reply with
    neither (an error line, which the server always sends and never flags) answers the oldest.
    `MN` answers only `mn`. Other text replies answer the oldest.
    """
    if request.binary != reply.binary:
        return False
    if request.binary:
        return request.opaque == reply.opaque and request.opcode == reply.opcode
    if not request.quiet:
        return True
    if reply.command == "MN" or request.command == "mn":
        return reply.command == "MN" and request.command == "mn"
    if reply.meta_opaque is not None:
        return request.meta_opaque == reply.meta_opaque
    if request.keys and reply.keys:
        return request.keys[0] == reply.keys[0]
    return True


class McTcpCorrelator(Correlator):
    """Requests wait in a bounded queue (`queue_max_messages` / `queue_max_bytes`); evicted ones are
    published unanswered and counted."""

    def __init__(self, connection: Connection, queue: MessageQueue[McMessage], timeout: float,
                 count: Counter) -> None:
        self._connection = connection
        self._queue = queue
        self._timeout = timeout
        self._count = count
        self._last_seen = float("-inf")

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        self._last_seen = max(self._last_seen, ts)
        if not isinstance(message, McMessage):
            raise TypeError(f"not a memcache message: {type(message).__name__}")
        if message.is_request:
            if not message.expects_response:
                return [self._alone(message)]
            evicted = self._queue.append(message)
            if evicted:
                self._count("requests_evicted", len(evicted))
            return [self._alone(r) for r in evicted]
        out: list[Transaction[Any, Any]] = []
        queue = self._queue
        while len(queue):
            request = queue.popleft()
            if answers(request, message):
                out.append(make_transaction(self._connection, request, message))
                return out
            out.append(self._alone(request, skipped=True))
        self._count("unmatched_responses")
        out.append(make_transaction(self._connection, None, message))
        return out

    def _alone(self, request: McMessage, *, skipped: bool = False) -> Transaction[McMessage, McMessage]:
        notes: tuple[str, ...] = ()
        if request.expects_response and not request.quiet:
            self._count("unmatched_requests")
            if skipped:
                notes = (NO_RESPONSE_TO_NON_QUIET,)
        return make_transaction(self._connection, request, None, notes)

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        # Only once the connection has been idle for the timeout: replies come in order.
        if len(self._queue) and now - self._last_seen > self._timeout:
            return [self._alone(r) for r in self._queue.clear()]
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        return [self._alone(r) for r in self._queue.clear()]


@dataclass(slots=True)
class _Reassembly:
    ts: float
    total: int
    parts: dict[int, bytes]
    size: int


class McUdpCorrelator(Correlator):
    """One UDP flow. The datagrams of a message share a request id; replies answer the request with it.

    One reply may come as several messages under the same request id (memcached sends a multi-get's
    values, then its `END` in a message of its own), so each request id of each direction has its own
    stream parser, kept until it has nothing half-read (bounded in number, and expired with the timeout).
    """

    def __init__(self, connection: Connection, new_parser: Callable[[Direction], McStreamParser],
                 timeout: float, max_pending: int, max_message_size: int, count: Counter) -> None:
        self._connection = connection
        self._new_parser = new_parser
        self._timeout = timeout
        self._max_pending = max_pending if max_pending > 0 else 1 << 62
        self._max_message_size = max_message_size
        self._count = count
        self._pending: OrderedDict[int, deque[McMessage]] = OrderedDict()
        self._pending_count = 0
        self._parts: OrderedDict[tuple[Direction, int], _Reassembly] = OrderedDict()
        self._streams: OrderedDict[tuple[Direction, int], tuple[McStreamParser, float]] = OrderedDict()

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if not isinstance(message, UdpFragment):
            raise TypeError(f"not a memcache UDP datagram: {type(message).__name__}")
        payload = self._reassemble(direction, message)
        if payload is None:
            return []
        key = (direction, message.request_id)
        entry = self._streams.pop(key, None)
        parser = entry[0] if entry is not None else self._new_parser(direction)
        messages = parser.receive_data(payload, ts)  # a ProtocolError drops the parser and its half message
        if not parser.idle:
            self._streams[key] = (parser, entry[1] if entry is not None else ts)
            while len(self._streams) > self._max_pending:
                self._streams.popitem(last=False)
                self._count("udp_messages_incomplete")
        out: list[Transaction[Any, Any]] = []
        for parsed in messages:
            out += self._on_parsed(parsed, message.request_id)
        return out

    def _reassemble(self, direction: Direction, fragment: UdpFragment) -> bytes | None:
        if fragment.total == 1:
            return fragment.payload
        key = (direction, fragment.request_id)
        entry = self._parts.get(key)
        if entry is None or entry.total != fragment.total:
            if entry is not None:
                self._count("udp_messages_incomplete")
            entry = self._parts[key] = _Reassembly(fragment.ts, fragment.total, {}, 0)
            while len(self._parts) > self._max_pending:
                self._parts.popitem(last=False)
                self._count("udp_messages_incomplete")
        if fragment.sequence in entry.parts:
            self._count("udp_duplicate_datagrams")
            return None
        entry.parts[fragment.sequence] = fragment.payload
        entry.size += len(fragment.payload)
        if entry.size > self._max_message_size:
            del self._parts[key]
            self._count("udp_messages_too_large")
            raise ProtocolError(f"UDP message over max_message_size ({self._max_message_size})")
        if len(entry.parts) < entry.total:
            return None
        del self._parts[key]
        return b"".join(entry.parts[i] for i in range(entry.total))

    def _on_parsed(self, message: McMessage, request_id: int) -> list[Transaction[Any, Any]]:
        message = dataclasses.replace(message, request_id=request_id)
        if message.is_request:
            if not message.expects_response:
                return [make_transaction(self._connection, message, None)]
            out: list[Transaction[Any, Any]] = []
            if self._pending_count >= self._max_pending:
                oldest_id, oldest = next(iter(self._pending.items()))
                self._count("requests_evicted")
                out.append(self._alone(oldest.popleft()))
                self._pending_count -= 1
                if not oldest:
                    del self._pending[oldest_id]
            self._pending.setdefault(request_id, deque()).append(message)
            self._pending_count += 1
            return out
        waiting = self._pending.get(request_id)
        out = []
        while waiting:
            request = waiting.popleft()
            self._pending_count -= 1
            if not waiting:
                del self._pending[request_id]
            if answers(request, message):
                out.append(make_transaction(self._connection, request, message))
                return out
            out.append(self._alone(request))
        self._count("unmatched_responses")
        out.append(make_transaction(self._connection, None, message))
        return out

    def _alone(self, request: McMessage) -> Transaction[McMessage, McMessage]:
        if request.expects_response and not request.quiet:
            self._count("unmatched_requests")
        return make_transaction(self._connection, request, None)

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        for request_id, waiting in list(self._pending.items()):
            while waiting and now - waiting[0].ts > self._timeout:
                out.append(self._alone(waiting.popleft()))
                self._pending_count -= 1
            if not waiting:
                del self._pending[request_id]
        for key, entry in list(self._parts.items()):
            if now - entry.ts > self._timeout:
                del self._parts[key]
                self._count("udp_messages_incomplete")
        for key, (_, started) in list(self._streams.items()):
            if now - started > self._timeout:
                del self._streams[key]
                self._count("udp_messages_incomplete")
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out = [self._alone(r) for waiting in self._pending.values() for r in waiting]
        self._pending.clear()
        self._pending_count = 0
        left = len(self._parts) + len(self._streams)
        if left:
            self._count("udp_messages_incomplete", left)
            self._parts.clear()
            self._streams.clear()
        return out
