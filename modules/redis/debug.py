"""What `-d redis` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("redis")

MAX_SHOWN = 120  # characters of a command or reply shown; the event has all that was kept

# Counter name -> what happened. Empty: the transaction line says it already.
REASONS = {
    "requests_evicted": "command queue over queue_max_messages / queue_max_bytes: the oldest is published "
                        "unanswered",
    "replies_to_evicted_requests": "reply to a command evicted from the queue: dropped",
    "messages_truncated": "message longer than max_message_size: the rest is counted, not kept",
    "lines_too_long": "line over max_line_length: dropped, the parser resyncs",
    "gaps_in_values": "bytes lost inside a bulk string: the message goes on, marked with packet loss",
    "messages_cut_by_close": "connection closed inside a message: it is dropped",
    "pushes": "",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def _short(data: bytes) -> str:
    shown = data[:MAX_SHOWN].decode("utf-8", "backslashreplace")
    return shown + "..." if len(data) > MAX_SHOWN else shown


def describe(transaction: Transaction[Any, Any]) -> str:
    """`set key3 me -> OK`, `llen key3 -> error ERR ...`, `(no request) -> push message [...]`."""
    request, response = transaction.request, transaction.response
    asked = _short(request.query) if request is not None else "(no request)"
    if response is None:
        return f"{asked} -> (no response)"
    push = getattr(transaction, "push", None)
    what = "error " if response.is_error else (f"push {push} " if push else "")
    return f"{asked} -> {what}{_short(response.text)}"
