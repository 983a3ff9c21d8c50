"""Sans-IO ICMP parsing: one whole message (header included) in, one `IcmpMessage` out."""

from __future__ import annotations

import struct

from packetshipper.protocol import ProtocolError

from .kinds import Role, role_of
from .messages import IcmpMessage

__all__ = ["parse_message", "HEADER"]

# type, code, checksum, then identifier and sequence (the "rest of header" of the pair types)
HEADER = struct.Struct("!BBHHH")


def parse_message(data: bytes, version: int) -> IcmpMessage:
    if version != 4 and version != 6:
        raise ProtocolError(f"ICMP over IP version {version}")
    if len(data) < HEADER.size:
        raise ProtocolError(f"ICMP message of {len(data)} bytes is shorter than its {HEADER.size}-byte header")
    icmp_type, code, _checksum, ident, seq = HEADER.unpack_from(data)
    if role_of(version, icmp_type) is Role.SINGLE:
        ident = seq = 0  # those bytes mean something else for these types
    return IcmpMessage(version, icmp_type, code, ident, seq, len(data) - HEADER.size)
