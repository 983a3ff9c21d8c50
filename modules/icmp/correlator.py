"""Pairs ICMP requests with their replies for one address pair, as Packetbeat does.

A paired request waits (keyed by who sent it, identifier and sequence) for the reply coming the
other way; a repeated request closes the earlier one, a reply without request and a request without
reply within `transaction_timeout` become `Error` transactions. Other types are transactions of one
message. Transactions are oriented so that the client is the requester, whichever side the core
took for the client of the address pair.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
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

from .kinds import Role, is_error, role_of
from .messages import IcmpMessage

__all__ = ["IcmpCorrelator", "DUPLICATE_REQUEST", "ORPHANED_REQUEST", "ORPHANED_RESPONSE"]

DUPLICATE_REQUEST = (
    "Another request with the same Id and Seq was received so this request was closed without "
    "receiving a response."
)
ORPHANED_REQUEST = "Request was received without an associated response."
ORPHANED_RESPONSE = "Response was received without an associated request."

IcmpTransaction: TypeAlias = Transaction[IcmpMessage, IcmpMessage]
_OTHER = (Direction.RESPONSE, Direction.REQUEST)  # Direction.other, without a call per reply
_RESPONSE, _PAIRED_REQUEST = Role.RESPONSE, Role.PAIRED_REQUEST
PendingKey = tuple[Direction, int, int]


class IcmpCorrelator(Correlator):
    def __init__(self, connection: Connection, timeout: float, max_pending: int,
                 count: Callable[[str], None]) -> None:
        self.connections = (connection, dataclasses.replace(connection, client=connection.server,
                                                            server=connection.client))
        self.timeout = timeout
        self.max_pending = max_pending
        self.count = count
        self.pending: OrderedDict[PendingKey, tuple[IcmpMessage, float]] = OrderedDict()

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[IcmpTransaction]:
        # By identity: an Enum member as a dict key hashes through Python code at every message.
        role = role_of(message.version, message.type)
        if role is _RESPONSE:
            return self._response(direction, message, ts)
        if role is _PAIRED_REQUEST:
            return self._request(direction, message, ts)
        return self._single(direction, message, ts)

    def _request(self, direction: Direction, msg: IcmpMessage, ts: float) -> list[IcmpTransaction]:
        out: list[IcmpTransaction] = []
        key = (direction, msg.id, msg.seq)
        earlier = self.pending.pop(key, None)
        if earlier is not None:
            self.count("duplicate_requests")
            out.append(self._unanswered(direction, *earlier, DUPLICATE_REQUEST))
        if len(self.pending) >= self.max_pending:
            self.count("pending_over_limit")
            (old_dir, _, _), (old_msg, old_ts) = self.pending.popitem(last=False)
            out.append(self._unanswered(old_dir, old_msg, old_ts, ORPHANED_REQUEST))
        self.pending[key] = (msg, ts)
        return out

    def _response(self, direction: Direction, msg: IcmpMessage, ts: float) -> list[IcmpTransaction]:
        requester = _OTHER[direction]
        found = self.pending.pop((requester, msg.id, msg.seq), None)
        if found is None and (direction, msg.id, msg.seq) in self.pending:
            # Both ends share one address (a host pinging itself): the two directions are one key.
            requester = direction
            found = self.pending.pop((direction, msg.id, msg.seq))
        conn = self.connections[requester]
        if found is None:
            self.count("unmatched_responses")
            return [Transaction(conn, None, msg, ts, ts, 0, msg.length, Status.ERROR, UNMATCHED_RESPONSE,
                                (ORPHANED_RESPONSE,))]
        req, req_ts = found
        failed = is_error(req.version, req.type) or is_error(msg.version, msg.type)
        return [Transaction(conn, req, msg, req_ts, ts, req.length, msg.length,
                            Status.ERROR if failed else Status.OK)]

    def _single(self, direction: Direction, msg: IcmpMessage, ts: float) -> list[IcmpTransaction]:
        status = Status.ERROR if is_error(msg.version, msg.type) else Status.OK
        return [Transaction(self.connections[direction], msg, None, ts, ts, msg.length, 0, status)]

    def _unanswered(self, requester: Direction, msg: IcmpMessage, ts: float, note: str) -> IcmpTransaction:
        self.count("unmatched_requests")
        return Transaction(self.connections[requester], msg, None, ts, ts, msg.length, 0, Status.ERROR,
                           UNMATCHED_REQUEST, (note,))

    def has_pending(self) -> bool:
        return bool(self.pending)

    def expire(self, now: float) -> list[IcmpTransaction]:
        out: list[IcmpTransaction] = []
        deadline = now - self.timeout
        while self.pending:
            key, (msg, ts) = next(iter(self.pending.items()))
            if ts > deadline:
                break
            del self.pending[key]
            out.append(self._unanswered(key[0], msg, ts, ORPHANED_REQUEST))
        return out

    def close(self, now: float) -> list[IcmpTransaction]:
        out = [self._unanswered(key[0], msg, ts, ORPHANED_REQUEST) for key, (msg, ts) in self.pending.items()]
        self.pending.clear()
        return out
