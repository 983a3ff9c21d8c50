"""The options Packetbeat reports (`dhcpv4.option.*`), decoded from their wire form (RFC 2132, RFC 3925).

A value whose length does not fit its option is left out with a note, not guessed at."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

from .names import MESSAGE_TYPES, option_name

__all__ = ["decode_options"]


class _Malformed(Exception):
    pass


def _ip(value: bytes) -> str:
    if len(value) != 4:
        raise _Malformed
    return socket.inet_ntop(socket.AF_INET, value)


def _ips(value: bytes) -> list[str]:
    if not value or len(value) % 4:
        raise _Malformed
    return [socket.inet_ntop(socket.AF_INET, value[i:i + 4]) for i in range(0, len(value), 4)]


def _text(value: bytes) -> str:
    return value.rstrip(b"\0").decode("utf-8", "replace")


def _u32(value: bytes) -> int:
    if len(value) != 4:
        raise _Malformed
    return int(struct.unpack("!I", value)[0])


def _u16(value: bytes) -> int:
    if len(value) != 2:
        raise _Malformed
    return int(struct.unpack("!H", value)[0])


def _i32(value: bytes) -> int:
    if len(value) != 4:
        raise _Malformed
    return int(struct.unpack("!i", value)[0])


def _message_type(value: bytes) -> str:
    if len(value) != 1:
        raise _Malformed
    return MESSAGE_TYPES.get(value[0]) or f"unknown ({value[0]})"


def _request_list(value: bytes) -> list[str]:
    return [option_name(code) for code in value]


def _vivc(value: bytes) -> list[dict[str, Any]]:
    """RFC 3925 section 3: enterprise number (4), data length (1), vendor class data; repeated."""
    out: list[dict[str, Any]] = []
    pos = 0
    while pos < len(value):
        if pos + 5 > len(value) or pos + 5 + value[pos + 4] > len(value):
            raise _Malformed
        enterprise = struct.unpack_from("!I", value, pos)[0]
        size = value[pos + 4]
        out.append({"id": enterprise, "data": value[pos + 5:pos + 5 + size].hex()})
        pos += 5 + size
    return out


def _nonzero(decode: Callable[[bytes], int]) -> Callable[[bytes], int | None]:
    def inner(value: bytes) -> int | None:
        seconds = decode(value)
        return seconds or None  # Packetbeat leaves out a zero lease, renewal or rebinding time
    return inner


# code -> (field under dhcpv4.option, decoder); Packetbeat's selection.
DECODERS: dict[int, tuple[str, Callable[[bytes], Any]]] = {
    53: ("message_type", _message_type),
    55: ("parameter_request_list", _request_list),
    50: ("requested_ip_address", _ip),
    54: ("server_identifier", _ip),
    28: ("broadcast_address", _ip),
    57: ("max_dhcp_message_size", _u16),
    60: ("class_identifier", _text),
    15: ("domain_name", _text),
    6: ("dns_servers", _ips),
    124: ("vendor_identifying_options", _vivc),
    1: ("subnet_mask", _ip),
    2: ("utc_time_offset_sec", _i32),
    3: ("router", _ips),
    4: ("time_servers", _ips),
    42: ("ntp_servers", _ips),
    12: ("hostname", _text),
    51: ("ip_address_lease_time_sec", _nonzero(_u32)),
    56: ("message", _text),
    58: ("renewal_time_sec", _nonzero(_u32)),
    59: ("rebinding_time_sec", _nonzero(_u32)),
    67: ("boot_file_name", _text),
}


def decode_options(options: tuple[tuple[int, bytes], ...]) -> tuple[dict[str, Any], list[str]]:
    """The `dhcpv4.option` fields, and a note for each option whose value was malformed."""
    fields: dict[str, Any] = {}
    notes: list[str] = []
    for code, value in options:
        entry = DECODERS.get(code)
        if entry is None:
            continue
        name, decode = entry
        try:
            decoded = decode(value)
        except _Malformed:
            notes.append(f"option {code} ({option_name(code)}) has a malformed value of {len(value)} bytes")
            continue
        if decoded is not None and decoded != "" and decoded != []:
            fields[name] = decoded
    return fields, notes
