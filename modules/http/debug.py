"""What `-d http` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("http")

MAX_TARGET = 200  # characters of a request-target shown; the event has all of it

# Counter name -> what happened, for the line a counted anomaly writes. Empty: the transaction line
# already says it.
REASONS = {
    "bodies_truncated": "body longer than the kept-body limit: the rest is counted, not kept",
    "gaps_in_body": "bytes lost inside a body: the message goes on, marked with packet loss",
    "messages_cut_by_close": "connection closed inside a message: it is published as cut short",
    "heads_cut_by_close": "connection closed inside a header block: the partial head is dropped",
    "oversized_heads": "header block over max_message_size: dropped, the parser resyncs",
    "body_decode_errors": "body could not be decoded (Content-Encoding): kept as sent",
    "pending_methods_dropped": "more requests in flight than max_pending_requests: the oldest method is "
                               "forgotten (a HEAD response may be misread)",
    "pending_requests_overflow": "more requests in flight than max_pending_requests: the oldest is published "
                                 "unanswered",
    "interim_responses": "interim (1xx) response dropped: the final response follows",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`GET /x?q=1 -> 200 OK`, `GET /x -> (no response)`, `(no request) -> 404 Not Found`."""
    request, response = transaction.request, transaction.response
    if request is not None:
        target = request.target
        if len(target) > MAX_TARGET:
            target = target[:MAX_TARGET] + "..."
        asked = f"{request.method} {target}"
    else:
        asked = "(no request)"
    answered = f"{response.status_code} {response.status_phrase}".rstrip() if response is not None else "(no response)"
    return f"{asked} -> {answered}"
