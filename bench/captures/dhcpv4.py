"""DHCPv4 over UDP: discover, offer, request and ack per client (one event each), with the options a
typical client asks for and a server sends."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from packetshipper.pcapgen import udp_frame

PROTOCOLS = [{"type": "dhcpv4"}]
SERVER = "192.0.2.67"
_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
_ZERO = bytes(4)


def _ip(text: str) -> bytes:
    return socket.inet_aton(text)


def _option(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def _message(op: int, kind: int, xid: int, mac: bytes, yiaddr: bytes, options: bytes) -> bytes:
    header = _HEADER.pack(op, 1, 6, 0, xid, 0, 0, _ZERO, yiaddr, _ZERO, _ZERO, mac.ljust(16, b"\0"), bytes(64),
                          bytes(128))
    return header + b"\x63\x82\x53\x63" + _option(53, bytes([kind])) + options + b"\xff"


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    asked = _option(55, bytes([1, 3, 6, 15, 28, 42, 119])) + _option(12, b"host") + _option(60, b"vendor 1.0")
    given = (_option(54, _ip(SERVER)) + _option(51, struct.pack("!I", 3600)) + _option(58, struct.pack("!I", 1800))
             + _option(59, struct.pack("!I", 3150)) + _option(1, _ip("255.255.255.0")) + _option(3, _ip(SERVER))
             + _option(6, _ip("192.0.2.53") + _ip("192.0.2.54")))
    for i in range(transactions):
        client = i // 4
        mac = b"\x02\x00" + client.to_bytes(4, "big")
        xid = 0x10000000 + client
        address = f"10.67.{(client >> 8) & 255}.{client & 255}"
        step = i % 4
        if step == 0:
            yield ts, udp_frame("0.0.0.0", "255.255.255.255", 68, 67, _message(1, 1, xid, mac, _ZERO, asked))
        elif step == 1:
            yield ts, udp_frame(SERVER, address, 67, 68, _message(2, 2, xid, mac, _ip(address), given))
        elif step == 2:
            yield ts, udp_frame("0.0.0.0", "255.255.255.255", 68, 67,
                                _message(1, 3, xid, mac, _ZERO, asked + _option(50, _ip(address))))
        else:
            yield ts, udp_frame(SERVER, address, 67, 68, _message(2, 5, xid, mac, _ip(address), given))
        ts += 0.0005
