"""A DNS message as one line of text: the `request` and `response` fields (`send_request`/`send_response`).

The layout follows Packetbeat's: `ID 7; QR response; OPCODE QUERY; FLAGS rd ra; RCODE NOERROR;
QUESTION class IN, type A, example.com; ANSWER ...`, records as their fields in key order, data last.
"""

from __future__ import annotations

from .codes import class_name, opcode_name, rcode_name, type_name
from .messages import DnsMessage, Question, Record
from .names import trim_dot

__all__ = ["message_text", "question_text"]

_FLAG_LETTERS = (
    ("authoritative", "aa"),
    ("truncated", "tc"),
    ("recursion_desired", "rd"),
    ("recursion_available", "ra"),
    ("authentic_data", "ad"),
    ("checking_disabled", "cd"),
)


def question_text(question: Question) -> str:
    """Packetbeat's `query` field: `class IN, type A, example.com`."""
    return f"class {class_name(question.qclass)}, type {type_name(question.qtype)}, {trim_dot(question.name)}"


def _record_text(record: Record) -> str:
    parts = [f"{key} {value}" for key, value in sorted(record.details)]
    return ", ".join(parts + [record.data])


def message_text(message: DnsMessage) -> str:
    header = message.header
    flags = " ".join(letters for attr, letters in _FLAG_LETTERS if getattr(header, attr))
    kind = "response" if header.response else "query"
    parts = [
        f"ID {header.id}; QR {kind}; OPCODE {opcode_name(header.opcode)}; FLAGS {flags}; "
        f"RCODE {rcode_name(header.rcode)}"
    ]
    if message.questions:
        parts.append("QUESTION " + "; ".join(question_text(q) for q in message.questions))
    for title, records in (
        ("ANSWER", message.answers),
        ("AUTHORITY", message.authorities),
        ("ADDITIONAL", message.additionals),
    ):
        if records:
            parts.append(title + " " + "; ".join(_record_text(r) for r in records))
    return "; ".join(parts)
