"""The `thrift` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

from .idl import load_idl

__all__ = ["SETTINGS", "ThriftConfig"]


def _idl_files(value: Any) -> list[str]:
    paths = s.string_list(value)
    load_idl(paths)  # a missing or unreadable file is a config error naming this key
    return paths

SETTINGS: Spec = {
    "transport_type": Setting(s.one_of("socket", "framed"), "socket",
                              "socket (unframed) or framed (a 4-byte length before each message)"),
    "protocol_type": Setting(s.one_of("binary", "compact"), "binary",
                             "binary or compact (compact messages are recognised by their first byte either way)"),
    "string_max_size": Setting(s.at_least(0), 200, "bytes of a string shown; longer ones end in ..."),
    "collection_max_size": Setting(s.at_least(0), 15, "elements of a list, set, map or struct shown; then ..."),
    "drop_after_n_struct_fields": Setting(s.at_least(1), 500,
                                          "a struct with more fields is taken as garbage (a protocol error)"),
    "idl_files": Setting(_idl_files, [], "Thrift IDL files naming services, arguments and exceptions"),
    "capture_reply": Setting(s.boolean, True, "decode replies (false: only their method and size)"),
    "obfuscate_strings": Setting(s.boolean, False, 'show every string as "*"'),
    "max_message_size": Setting(s.at_least(64, s.size), 10 << 20,
                                "largest message buffered; over it the direction resyncs "
                                "(thrift.oversized_messages)"),
    "max_pending_requests": Setting(s.at_least(1), 1000,
                                    "calls waiting for their reply per connection; over this the oldest is "
                                    "published unanswered (thrift.pending_requests_overflow)"),
}


@dataclass(frozen=True, slots=True)
class ThriftConfig:
    transport_type: str
    protocol_type: str
    string_max_size: int
    collection_max_size: int
    drop_after_n_struct_fields: int
    idl_files: tuple[str, ...]
    capture_reply: bool
    obfuscate_strings: bool
    max_message_size: int
    max_pending_requests: int
    send_request: bool
    send_response: bool

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> ThriftConfig:
        get = configured(SETTINGS, config)

        return cls(
            transport_type=str(get("transport_type")), protocol_type=str(get("protocol_type")),
            string_max_size=int(get("string_max_size")), collection_max_size=int(get("collection_max_size")),
            drop_after_n_struct_fields=int(get("drop_after_n_struct_fields")),
            idl_files=tuple(get("idl_files")), capture_reply=bool(get("capture_reply")),
            obfuscate_strings=bool(get("obfuscate_strings")), max_message_size=int(get("max_message_size")),
            max_pending_requests=int(get("max_pending_requests")),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
        )
