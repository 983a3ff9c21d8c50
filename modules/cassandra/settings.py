"""The `cassandra` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

from .codes import OPCODE_BY_NAME
from .frames import MAX_FRAME

__all__ = ["SETTINGS", "CassandraConfig"]


def _ops(value: Any) -> list[str]:
    names = s.string_list(value)
    out = []
    for name in names:
        op = name.strip().upper()
        if op not in OPCODE_BY_NAME:
            raise ValueError(f"unknown frame op {name!r} (known: {', '.join(OPCODE_BY_NAME)})")
        out.append(op)
    return out


def _compressor(value: Any) -> str:
    text = s.string(value).strip().lower()
    if text not in ("", "snappy", "lz4"):
        raise ValueError(f"{value!r}: one of snappy, lz4, or empty (the one the client's STARTUP names)")
    return text


SETTINGS: Spec = {
    "send_request": Setting(s.boolean, True, "include `cassandra.request` in events (Packetbeat: true)"),
    "send_response": Setting(s.boolean, True, "include `cassandra.response` in events (Packetbeat: true)"),
    "send_request_header": Setting(s.boolean, True, "include `cassandra.request.headers`"),
    "send_response_header": Setting(s.boolean, True, "include `cassandra.response.headers`"),
    "compressor": Setting(_compressor, "",
                          "compression of compressed frames: snappy or lz4; empty: the one the client's "
                          "STARTUP names, else tried in turn (needs the cassandra extra: lz4, python-snappy)"),
    "ignored_ops": Setting(_ops, [], "frame ops (QUERY, OPTIONS, REGISTER...) whose transactions are not "
                                     "published (counted as cassandra.ignored)"),
    "max_message_size": Setting(
        s.at_least(64, s.size, maximum=MAX_FRAME), 10 << 20,
        "largest frame body read whole (and decompressed); longer ones are reported from their header "
        "(cassandra.oversized_frames)"),
    "max_pending_requests": Setting(
        s.at_least(1), 1000,
        "requests waiting for their response per connection; over this the oldest is published unanswered "
        "(cassandra.pending_requests_overflow)"),
    "max_sessions": Setting(
        s.at_least(1), 65536,
        "connections whose negotiated compression and version are remembered; over this the oldest is "
        "forgotten (cassandra.sessions_evicted)"),
}

@dataclass(frozen=True, slots=True)
class CassandraConfig:
    send_request: bool
    send_response: bool
    send_request_header: bool
    send_response_header: bool
    compressor: str
    ignored_ops: frozenset[int]
    max_message_size: int
    max_pending_requests: int
    max_sessions: int

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> CassandraConfig:
        get = configured(SETTINGS, config)

        return cls(
            send_request=bool(get("send_request")),
            send_response=bool(get("send_response")),
            send_request_header=bool(get("send_request_header")),
            send_response_header=bool(get("send_response_header")),
            compressor=str(get("compressor")),
            ignored_ops=frozenset(OPCODE_BY_NAME[op.upper()] for op in get("ignored_ops")),
            max_message_size=int(get("max_message_size")),
            max_pending_requests=int(get("max_pending_requests")),
            max_sessions=int(get("max_sessions")),
        )
