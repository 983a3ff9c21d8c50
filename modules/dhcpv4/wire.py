"""Reads a DHCPv4 datagram: the 236-byte BOOTP header (RFC 2131 figure 1), the magic cookie, and the
options (RFC 2132), including those overloaded into `file` and `sname` (option 52) and long options
split over several instances (RFC 3396)."""

from __future__ import annotations

import socket
import struct

from packetshipper.protocol import ProtocolError

from .messages import DhcpMessage

__all__ = ["HEADER", "MAGIC_COOKIE", "parse"]

# op htype hlen hops | xid | secs flags | ciaddr yiaddr siaddr giaddr | chaddr(16) sname(64) file(128)
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
MAGIC_COOKIE = b"\x63\x82\x53\x63"
PAD, END, OVERLOAD = 0, 255, 52


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def _options(area: bytes, out: dict[int, bytearray], notes: list[str], where: str) -> bool:
    """Add the options in `area` to `out`; False if the area ended inside an option."""
    pos, end = 0, len(area)
    while pos < end:
        code = area[pos]
        if code == END:
            return True
        if code == PAD:
            pos += 1
            continue
        if pos + 1 >= end or pos + 2 + area[pos + 1] > end:
            notes.append(f"option {code} in {where} runs past the end of the message: dropped")
            return False
        length = area[pos + 1]
        out.setdefault(code, bytearray()).extend(area[pos + 2:pos + 2 + length])
        pos += 2 + length
    return True


def parse(data: bytes, ts: float, from_client: bool) -> DhcpMessage:
    if len(data) < HEADER.size + 4:
        raise ProtocolError(f"{len(data)} bytes: shorter than a DHCP message ({HEADER.size + 4})")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     file) = HEADER.unpack_from(data)
    if data[HEADER.size:HEADER.size + 4] != MAGIC_COOKIE:
        raise ProtocolError("no DHCP magic cookie (a BOOTP message, or not DHCP)")
    found: dict[int, bytearray] = {}
    notes: list[str] = []
    _options(data[HEADER.size + 4:], found, notes, "options")
    overload = found.get(OVERLOAD)
    mode = overload[0] if overload and len(overload) == 1 else 0
    if mode in (1, 3):
        _options(file, found, notes, "file")
        file = b""
    if mode in (2, 3):
        _options(sname, found, notes, "sname")
        sname = b""
    return DhcpMessage(
        ts=ts, size=len(data), from_client=from_client, op=op, htype=htype, hlen=hlen, hops=hops, xid=xid, secs=secs,
        flags=flags, ciaddr=_ip(ciaddr), yiaddr=_ip(yiaddr), siaddr=_ip(siaddr), giaddr=_ip(giaddr),
        chaddr=chaddr[:min(hlen, 16)], sname=sname.split(b"\0", 1)[0], file=file.split(b"\0", 1)[0],
        options=tuple((code, bytes(value)) for code, value in found.items()), notes=tuple(notes))
