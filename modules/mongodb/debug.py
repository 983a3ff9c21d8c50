"""What `-d mongodb` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("mongodb")

# Counter name -> what happened, for the line a counted anomaly writes. Empty: the transaction line says it.
REASONS = {
    "oversized_messages": "message over max_message_size: skipped unread, reported from its header",
    "messages_cut_by_close": "connection closed inside a message: reported from its header",
    "messages_cut_by_gaps": "bytes lost inside a message: reported from its header, the rest skipped",
    "unknown_opcodes": "",  # the core's protocol-error line says it
    "documents_not_decoded": "a document that is not valid BSON (or bson is not installed): left out",
    "compressed_not_decoded": "OP_COMPRESSED with a compressor not available here: reported from its header",
    "compressed_messages": "",
    "duplicate_request_ids": "a second request with a pending requestID: the first is published unanswered",
    "pending_requests_overflow": "more requests in flight than max_pending_requests: the oldest is published "
                                 "unanswered",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`find test.restaurants -> 1 documents`, `insert test.c -> error E11000 ...`."""
    request, reply = transaction.request, transaction.response
    asked = f"{request.method} {request.resource}".strip() if request is not None else "(no request)"
    if reply is None:
        answered = "(no reply)" if request is None or request.expects_reply else "(no reply expected)"
    elif reply.error is not None:
        answered = f"error {reply.error[:200]}"
    else:
        answered = f"{reply.num_documents} documents"
    return f"{asked} -> {answered}"
