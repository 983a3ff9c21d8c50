"""What `-d pgsql` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .messages import Back

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("pgsql")

MAX_QUERY = 200  # characters of a statement shown; the event has all of it

# Counter name -> what happened, for the line a counted anomaly writes. Empty: nothing to say
# beyond the transaction line (or too common to log).
REASONS = {
    "oversized_messages": "message over max_message_size: skipped unread",
    "results_cut_by_close": "the server closed the connection inside a result: published as cut short",
    "gaps_resynced": "bytes lost between messages: parsing resumes at the next message boundary",
    "encrypted_connections": "the server accepted SSL/GSSAPI encryption: the connection is no longer parsed",
    "unknown_statements": "Bind of a statement prepared before the capture began: its text is unknown",
    "prepared_statements_forgotten": "more prepared statements or portals than max_prepared_statements: "
                                     "the oldest is forgotten",
    "pending_requests_overflow": "more statements in flight than max_pending_requests: the oldest is "
                                 "published unanswered",
    "results_without_statement": "a result the client's statements do not account for: dropped",
    "statements_without_result": "ReadyForQuery before every statement had its result",
    "statements_skipped_after_error": "",
    "notices_without_statement": "a NoticeResponse outside any statement: dropped",
    "notices_dropped": "more NoticeResponses for one statement than max_notices: counted, not kept",
    "hidden_statements": "",
    "prepared_without_execute": "",
    "logins": "",
    "failed_logins": "",
    "logins_unfinished": "",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`SELECT select * from t -> 200 rows`, `INSERT ... -> ERROR 23505`, `(no request) -> ...`."""
    request, response = transaction.request, transaction.response
    if request is None:
        asked = "(no request)"
    else:
        query = request.query or ""
        if len(query) > MAX_QUERY:
            query = query[:MAX_QUERY] + "..."
        asked = f"{request.method} {query}".strip()
    if response is None:
        answered = "(no response)"
    elif response.kind is Back.ERROR and response.error is not None:
        answered = f"{response.error.severity} {response.error.code} {response.error.message}"
    else:
        answered = response.tag or response.kind.value
        answered += f", {response.num_rows} rows" if response.fields else ""
    return f"{asked} -> {answered}"
