"""What `-d icmp` says: a transaction in a few words, and why a request was closed early."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .kinds import Role, role_of
from .kinds import describe as kind_name
from .messages import IcmpMessage

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("icmp")

# Counter name -> what happened. Empty: the transaction line says it already.
REASONS = {
    "duplicate_requests": "request repeated (same id and seq) before its reply: the earlier one is "
                          "published unanswered",
    "pending_over_limit": "more requests waiting than max_pending_requests: the oldest is published unanswered",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`EchoRequest(0) id 7 seq 1 -> EchoReply(0)`, `DestinationUnreachable(Port)`."""
    request, response = transaction.request, transaction.response
    if request is None:
        assert response is not None
        return f"(no request) -> {_text(response)}"
    if response is None:
        paired = role_of(request.version, request.type) is Role.PAIRED_REQUEST
        return f"{_text(request)} -> (no response)" if paired else _text(request)
    return f"{_text(request)} -> {kind_name(response.version, response.type, response.code)}"


def _text(message: IcmpMessage) -> str:
    name = kind_name(message.version, message.type, message.code)
    role = role_of(message.version, message.type)
    return name if role is Role.SINGLE else f"{name} id {message.id} seq {message.seq}"
