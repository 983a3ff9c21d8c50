"""What `-d dns` says: a transaction in a few words, and why a message was dropped or counted."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .codes import rcode_name, type_name
from .messages import DnsMessage

__all__ = ["DEBUG", "REASONS", "describe", "message_text"]

DEBUG = debug_log("dns")

# Counter name -> what happened. Empty: the correlator or the transaction line says it already.
REASONS = {
    "trailing_bytes": "bytes after the last record: ignored",
    "malformed_records": "records whose data does not fit their type: kept in raw form",
    "messages_too_large": "TCP message over max_message_size: dropped, the parser resyncs",
    "duplicate_queries": "",
    "pending_queries_evicted": "",
    "zone_transfer_messages": "",
    "unmatched_responses": "",
    "mismatched_responses": "",
    "unmatched_queries": "",
}


def message_text(message: DnsMessage) -> str:
    """`id 0x1a2b A www.example.com.`: the id and first question."""
    question = message.question
    asked = f" {type_name(question.qtype)} {question.name}" if question is not None else " (no question)"
    return f"id 0x{message.header.id:04x}{asked}"


def describe(transaction: Transaction[Any, Any]) -> str:
    """`query id 0x1a2b A www.example.com. -> NOERROR, 2 answers`, or a half with `(no response)`."""
    query, response = transaction.request, transaction.response
    if query is None:
        assert response is not None
        return f"(no query) -> response {message_text(response)} {_answer(response)}"
    answered = _answer(response) if response is not None else "(no response)"
    return f"query {message_text(query)} -> {answered}"


def _answer(response: DnsMessage) -> str:
    count = len(response.answers)
    return f"{rcode_name(response.header.rcode)}, {count} answer{'' if count == 1 else 's'}"
