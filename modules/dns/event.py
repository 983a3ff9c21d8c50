"""The DNS event fields (`dns.*`, `method`, `query`, `resource`, ...): the only place naming them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.protocol import Transaction
from packetshipper.records import record

from .codes import class_name, opcode_name, rcode_name, type_name
from .messages import DnsMessage, Edns, Record
from .names import trim_dot
from .suffix import DomainParts, SuffixList
from .text import message_text, question_text

__all__ = ["EventOptions", "dns_event_fields"]

_HEADER_FLAGS = (
    ("authoritative", "AA"),
    ("truncated", "TC"),
    ("recursion_desired", "RD"),
    ("recursion_available", "RA"),
    ("authentic_data", "AD"),
    ("checking_disabled", "CD"),
)
# The letters of each combination of the six flags (bit i: _HEADER_FLAGS[i] set), in that order.
_FLAG_LETTERS = [tuple(letters for bit, (_, letters) in enumerate(_HEADER_FLAGS) if mask >> bit & 1)
                 for mask in range(1 << len(_HEADER_FLAGS))]
_BADVERS = 16  # as an EDNS extended rcode, 16 is BADVERS (RFC 6891), not TSIG's BADSIG


@record
class EventOptions:
    include_authorities: bool = False
    include_additionals: bool = False
    send_request: bool = False
    send_response: bool = False
    suffixes: SuffixList | None = None
    # `suffixes.split`, or a cache of it (the module's, bounded by `suffix_cache_size`): used where set.
    split: Callable[[str], DomainParts | None] | None = None


def dns_event_fields(txn: Transaction[DnsMessage, DnsMessage], options: EventOptions) -> dict[str, Any]:
    request, response = txn.request, txn.response
    shown = response if response is not None else request
    asked = request if request is not None else response
    if shown is None or asked is None:
        return {}
    dns = _message_fields(shown, options)
    dns["type"] = "answer" if response is not None else "query"
    fields: dict[str, Any] = {"dns": dns, "method": opcode_name(asked.header.opcode)}
    question = asked.question
    if question is not None:
        fields["query"] = question_text(question)
        fields["resource"] = trim_dot(question.name)
    resolved = dns.get("resolved_ip")
    if resolved:
        conn = txn.connection
        fields["related"] = {"ip": sorted({conn.client.ip, conn.server.ip, *resolved})}
    if options.send_request and request is not None:
        fields["request"] = message_text(request)
    if options.send_response and response is not None:
        fields["response"] = message_text(response)
    return fields


def _message_fields(message: DnsMessage, options: EventOptions) -> dict[str, Any]:
    header = message.header
    # Read once, in _HEADER_FLAGS' order, for both the letters and the booleans.
    aa, tc, rd, ra = header.authoritative, header.truncated, header.recursion_desired, header.recursion_available
    ad, cd = header.authentic_data, header.checking_disabled
    flags = list(_FLAG_LETTERS[aa | tc << 1 | rd << 2 | ra << 3 | ad << 4 | cd << 5])
    edns = message.edns
    if edns is not None and edns.dnssec_ok:
        flags.append("DO")
    dns: dict[str, Any] = {
        "id": header.id,
        "op_code": opcode_name(header.opcode),
        "flags": {
            "authoritative": aa,
            "truncated_response": tc,
            "recursion_desired": rd,
            "recursion_available": ra,
            "authentic_data": ad,
            "checking_disabled": cd,
        },
        "response_code": rcode_name(header.rcode),
        "answers_count": len(message.answers),
        "authorities_count": len(message.authorities),
        "additionals_count": len(message.additionals),
    }
    if flags:
        dns["header_flags"] = flags
    question = message.question
    if question is not None:
        dns["question"] = _question_fields(trim_dot(question.name), question.qtype, question.qclass, options)
    if edns is not None:
        dns["opt"] = _opt_fields(edns)
    answers = message.answers
    if answers:
        dns["answers"] = [_record_fields(r) for r in answers]
        resolved = [r.address for r in answers if r.address is not None]
        if resolved:
            dns["resolved_ip"] = resolved
    if options.include_authorities and message.authorities:
        dns["authorities"] = [_record_fields(r) for r in message.authorities]
    if options.include_additionals and message.additionals:
        dns["additionals"] = [_record_fields(r) for r in message.additionals]
    return dns


def _question_fields(name: str, qtype: int, qclass: int, options: EventOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_name(qtype), "class": class_name(qclass)}
    split = options.split
    if split is None and options.suffixes is not None:
        split = options.suffixes.split
    parts = split(name) if split is not None else None
    if parts is not None:
        out["registered_domain"] = out["etld_plus_one"] = parts.registered_domain
        out["top_level_domain"] = parts.top_level_domain
        if parts.subdomain:
            out["subdomain"] = parts.subdomain
    elif options.suffixes is not None and name.count(".") == 1 and not name.endswith("."):
        # The name is itself a public suffix with two labels (`github.io`); Packetbeat still fills these.
        out["registered_domain"] = name
        out["top_level_domain"] = name.split(".", 1)[1]
    return out


def _opt_fields(edns: Edns) -> dict[str, Any]:
    extended = edns.ext_rcode << 4
    out: dict[str, Any] = {
        "version": str(edns.version),
        "do": edns.dnssec_ok,
        "udp_size": edns.udp_size,
        "ext_rcode": "BADVERS" if extended == _BADVERS else rcode_name(extended),
    }
    for key, text in edns.options:
        out[key] = text
    return out


def _record_fields(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": trim_dot(record.name),
        "type": type_name(record.rtype),
        "class": class_name(record.rclass),
        "ttl": record.ttl,
        "data": record.data,
    }
    if record.details:
        out.update(record.details)
    return out
