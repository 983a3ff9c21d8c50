"""The memcache event fields (`memcache.*`, `event.action`): the only place naming them."""

from __future__ import annotations

import base64
from typing import Any

from packetshipper.protocol import Transaction

from . import codes as c
from .messages import McMessage

__all__ = ["event_fields"]

_META_WITH_QUIET = frozenset({"mg", "ms", "md", "ma"})
_AUTOMOVE = {0: "standby", 1: "slow", 2: "aggressive"}
# McMessage attribute -> event field, in the order Packetbeat writes them; None values are left out.
_NUMBERS = (("flags", "flags"), ("exptime", "exptime"), ("value_bytes", "bytes"),
            ("count_values", "count_values"), ("cas_unique", "cas_unique"), ("delta", "delta"),
            ("initial", "initial"), ("value", "value"), ("verbosity", "verbosity"), ("sleep_us", "sleep_us"),
            ("source_class", "source_class"), ("dest_class", "dest_class"))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


_LONG_MAX = (1 << 63) - 1  # Elasticsearch's long; memcache's 64-bit counters and CAS values may exceed it


def _message(message: McMessage, side: str, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"command": message.command, "type": message.type}
    if message.keys:
        out["keys"] = [_text(k) for k in message.keys]
    for attr, name in _NUMBERS:
        value = getattr(message, attr)
        if value is not None:
            if value > _LONG_MAX:
                notes.append(f"memcache.{side}.{name} {value} is beyond a long: left out")
                continue
            out[name] = value
    if message.values:
        out["values"] = [base64.b64encode(v).decode() for v in message.values]
    if message.automove is not None:
        out["automove"] = _AUTOMOVE.get(message.automove, str(message.automove))
    for attr in ("raw_args", "version", "error_msg", "line"):
        value = getattr(message, attr)
        if value is not None:
            out[attr] = _text(value)
    if message.stats:
        out["stats"] = [{"name": _text(n), "value": _text(v)} for n, v in message.stats]
    if message.binary:
        if message.opcode is not None:
            out["opcode"] = c.opcode_name(message.opcode)
            out["opcode_value"] = message.opcode
        out["opaque"] = message.opaque
        if message.is_request:
            out["quiet"] = message.quiet
            out["vbucket"] = message.vbucket
        else:
            out["status"] = c.status_name(message.status or 0)
            out["status_code"] = message.status
    elif message.is_request and message.noreply is not None:
        out["noreply"] = message.noreply
    elif message.is_request and message.command in _META_WITH_QUIET:
        out["quiet"] = message.quiet
    return out


def event_fields(txn: Transaction[McMessage, McMessage]) -> dict[str, Any]:
    request, response = txn.request, txn.response
    shown = request if request is not None else response
    memcache: dict[str, Any] = {"protocol_type": "unknown" if shown is None else
                                "binary" if shown.binary else "text"}
    fields: dict[str, Any] = {"memcache": memcache}
    notes: list[str] = []
    if request is not None:
        memcache["request"] = _message(request, "request", notes)
        fields["event"] = {"action": "memcache." + request.type.lower()}
    if response is not None:
        memcache["response"] = _message(response, "response", notes)
    if notes:
        fields["notes"] = [*txn.notes, *notes]
    return fields
