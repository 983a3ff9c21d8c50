"""What `-d smtp` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any, cast

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .records import MailRecord

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("smtp")

REASONS = {
    "lines_too_long": "line over max_line_length: a protocol error, the direction resyncs",
    "reply_lines_dropped": "multi-line reply over max_reply_lines: the extra lines are counted, not kept",
    "commands_evicted": "more than max_pending commands awaiting replies: the oldest is forgotten",
    "recipients_dropped": "more than max_recipients in one transaction: the rest are counted, not listed",
    "gaps_in_messages": "bytes lost inside a message: its size is kept, marked as approximate",
    "unmatched_replies": "reply without a command waiting for it: dropped",
    "messages_over_max_message_size": "message larger than max_message_size: followed to its end, noted",
    "unanswered_commands": "",
    "implicit_tls": "the connection starts with TLS (as on port 465): nothing of it is read",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`MAIL <a@x> -> 2 accepted, 1 rejected, 1234 bytes: 250 OK`, `STARTTLS -> 220 ready`."""
    record = cast(MailRecord, transaction.request)  # every smtp transaction has its record
    reply = transaction.response
    answer = f"{reply.code} {reply.lines[0] if reply.lines else ''}".strip() if reply is not None else "(no reply)"
    if record.action != "mail":
        what = record.action.upper() + (f" {record.auth_mechanism}" if record.action == "auth" else "")
        return f"{what} -> {answer}"
    size = f", {record.message_size} bytes" if record.message_size is not None else ""
    return (f"MAIL <{record.mail_from or ''}> -> {len(record.accepted)} accepted, {len(record.rejected)} rejected"
            f"{size}, ended by {record.end}: {answer}")
