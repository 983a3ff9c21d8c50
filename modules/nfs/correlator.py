"""Pairs RPC calls and replies of one connection by xid, in each direction.

A reply matches the pending call with its xid that went the other way (an NFSv4.1 connection also
carries the server's callbacks). Calls of other programs (NFS_ACL, callbacks) are remembered only so
that their replies are dropped quietly, as Packetbeat drops them. At most `max_pending` NFS calls (and
as many other calls) wait; beyond that the oldest is published unanswered (counted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    Status,
    Transaction,
)

from .codes import REJECT_STATUS, accept_status_name
from .messages import RpcCall, RpcReply

__all__ = ["NfsCorrelator", "NO_REPLY", "TOO_MANY_PENDING", "NfsTransaction", "reply_status_name"]

# Packetbeat publishes an unanswered call with status NO_REPLY; our status field keeps its four values,
# so it is status Error with the core's "Unmatched request" (counted under `unmatched`).
NO_REPLY = UNMATCHED_REQUEST
TOO_MANY_PENDING = "NO_REPLY: closed unanswered, too many calls in flight on this connection (max_pending_calls)"

NfsTransaction: TypeAlias = Transaction[RpcCall, RpcReply]
_Key = tuple[Direction, int]


def reply_status_name(reply: RpcReply) -> str:
    """`rpc.status`: the accept_stat name (Packetbeat's), or for a denied call its reject_stat's."""
    if reply.accepted:
        return accept_status_name(reply.status)
    return REJECT_STATUS[reply.status] if reply.status < len(REJECT_STATUS) else f"unknown ({reply.status})"


class NfsCorrelator(Correlator):
    def __init__(self, connection: Connection, transaction_timeout: float, max_pending: int,
                 count: Callable[[str], None]) -> None:
        self.connection = connection
        self.transaction_timeout = transaction_timeout
        self.max_pending = max_pending
        self._count = count
        self._calls: dict[_Key, RpcCall] = {}  # insertion order is arrival order
        self._others: dict[_Key, float] = {}  # other programs' calls: when they were seen

    @property
    def pending(self) -> int:
        return len(self._calls) + len(self._others)

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if isinstance(message, RpcCall):
            return self._on_call(direction, message)
        return self._on_reply(direction, message)

    def _on_call(self, direction: Direction, call: RpcCall) -> list[Transaction[Any, Any]]:
        key = (direction, call.xid)
        if call.nfs is None:
            self._count("other_program_calls")
            self._others.pop(key, None)
            self._others[key] = call.ts
            if len(self._others) > self.max_pending:
                del self._others[next(iter(self._others))]
                self._count("other_program_calls_forgotten")
            return []
        closed: list[Transaction[Any, Any]] = []
        if self._calls.pop(key, None) is not None:
            # RPC retransmits a call with its xid unchanged: the newest copy waits, as in Packetbeat.
            self._count("retransmitted_calls")
        elif len(self._calls) >= self.max_pending:
            oldest = next(iter(self._calls))
            self._count("pending_calls_evicted")
            closed.append(self._unanswered(self._calls.pop(oldest), TOO_MANY_PENDING))
        self._calls[key] = call
        return closed

    def _on_reply(self, direction: Direction, reply: RpcReply) -> list[Transaction[Any, Any]]:
        key = (direction.other, reply.xid)
        call = self._calls.pop(key, None)
        if call is None:
            if self._others.pop(key, None) is not None:
                self._count("other_program_replies")
                return []
            self._count("unmatched_replies")
            return [Transaction(connection=self.connection, request=None, response=reply, start=reply.ts,
                                end=reply.ts, response_bytes=reply.size, status=Status.ERROR,
                                error=UNMATCHED_RESPONSE)]
        ok = reply.accepted and reply.status == 0
        return [Transaction(connection=self.connection, request=call, response=reply, start=call.ts, end=reply.ts,
                            request_bytes=call.size, response_bytes=reply.size,
                            status=Status.OK if ok else Status.ERROR,
                            error=None if ok else f"RPC call failed: {reply_status_name(reply)}")]

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        deadline = now - self.transaction_timeout
        expired: list[Transaction[Any, Any]] = []
        while self._calls:
            key, call = next(iter(self._calls.items()))
            if call.ts > deadline:
                break
            del self._calls[key]
            self._count("unmatched_calls")
            expired.append(self._unanswered(call, NO_REPLY))
        while self._others and next(iter(self._others.values())) <= deadline:
            del self._others[next(iter(self._others))]
        return expired

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        closed = [self._unanswered(call, NO_REPLY) for call in self._calls.values()]
        for _ in closed:
            self._count("unmatched_calls")
        self._calls.clear()
        self._others.clear()
        return closed

    def _unanswered(self, call: RpcCall, why: str) -> NfsTransaction:
        return Transaction(connection=self.connection, request=call, response=None, start=call.ts, end=call.ts,
                           request_bytes=call.size, status=Status.ERROR, error=why)
