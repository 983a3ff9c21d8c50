"""What `-d cassandra` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from . import codes as c

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("cassandra")

# Counter name -> what happened, for the line a counted anomaly writes. Empty: the transaction line says it.
REASONS = {
    "oversized_frames": "frame over max_message_size: reported from its header, the body skipped",
    "compressed_frames": "",
    "compressed_not_decoded": "compressed frame whose compression is unknown or not installed (lz4, "
                              "python-snappy): reported from its header",
    "bodies_not_decoded": "frame body that does not hold what its opcode says: reported from its header",
    "segments": "",
    "framing_fallbacks": "legacy frame where a v5 segment was expected (the client fell back to an "
                         "older version)",
    "duplicate_streams": "a second request on a stream id still pending: the first is published unanswered",
    "pending_requests_overflow": "more requests in flight than max_pending_requests: the oldest is "
                                 "published unanswered",
    "ignored": "",
    "unmatched_requests": "",
    "unmatched_responses": "",
    "sessions_evicted": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`QUERY stream 3 "SELECT ..." -> RESULT rows`, `QUERY stream 9 -> ERROR errSyntax`."""
    request, response = transaction.request, transaction.response
    if request is None:
        asked = "(no request)"
    else:
        asked = f"{c.OPCODES[request.opcode]} stream {request.stream}"
        query = request.fields.get("query")
        if isinstance(query, str):
            asked += f" {query[:200]!r}"
    if response is None:
        return f"{asked} -> (no response)"
    answered = c.OPCODES[response.opcode]
    result = response.fields.get("result")
    error = response.fields.get("error")
    if isinstance(result, dict):
        answered += f" {result.get('type')}"
    elif isinstance(error, dict):
        answered += f" {error.get('type')}"
    return f"{asked} -> {answered}"
