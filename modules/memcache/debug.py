"""What `-d memcache` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from . import codes as c
from .messages import McMessage

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("memcache")

# Counter name -> what happened. Empty: the transaction line says it already.
REASONS = {
    "requests_evicted": "request queue over queue_max_messages / queue_max_bytes: the oldest is published "
                        "unanswered",
    "messages_truncated": "more keys or stats than max_message_size: the rest are counted, not kept",
    "lines_too_long": "line over max_line_length: dropped, the parser resyncs",
    "gaps_in_values": "bytes lost inside a value: the message goes on, marked with packet loss",
    "messages_cut_by_close": "connection closed inside a message: it is dropped",
    "unknown_commands": "",
    "udp_messages_incomplete": "UDP message whose datagrams did not all arrive: dropped",
    "udp_messages_too_large": "UDP message over max_message_size: dropped",
    "udp_duplicate_datagrams": "UDP datagram seen twice: the copy is ignored",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def _side(message: McMessage) -> str:
    keys = b" ".join(message.keys[:3]).decode("utf-8", "backslashreplace")
    more = " ..." if len(message.keys) > 3 else ""
    name = c.opcode_name(message.opcode) if message.binary and message.opcode is not None else message.command
    status = f": {c.status_name(message.status or 0)}" if message.binary and not message.is_request else ""
    return f"{name}{' ' + keys if keys else ''}{more}{status}"


def describe(transaction: Transaction[Any, Any]) -> str:
    """`set k1 -> STORED`, `get x k1 -> VALUE k1`, `GetKQ k1 -> GetKQ k1: Success`, `get k -> (no response)`."""
    request, response = transaction.request, transaction.response
    asked = _side(request) if request is not None else "(no request)"
    answered = _side(response) if response is not None else "(no response)"
    return f"{asked} -> {answered}"
