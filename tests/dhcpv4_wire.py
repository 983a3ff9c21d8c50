"""DHCPv4 messages on the wire, spoken in meaning (RFC 2131 figure 1, RFC 2132 options)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import Any

from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.dhcpv4 import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import validate

COOKIE = bytes([99, 130, 83, 99])
CLIENT = Connection("udp", 4, Endpoint("0.0.0.0", 68), Endpoint("255.255.255.255", 67), connection_id=7)


def ip(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, text)


def option(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def build(*, op: int = 1, htype: int = 1, mac: bytes = bytes.fromhex("02005e102030"), hops: int = 0,
          xid: int = 0x1234ABCD, secs: int = 0, broadcast: bool = False, ciaddr: str = "0.0.0.0",
          yiaddr: str = "0.0.0.0", siaddr: str = "0.0.0.0", giaddr: str = "0.0.0.0", sname: bytes = b"",
          file: bytes = b"", options: Iterable[bytes] = (), cookie: bytes = COOKIE, end: bool = True,
          hlen: int | None = None) -> bytes:
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, htype, len(mac) if hlen is None else hlen, hops, xid,
                         secs, 0x8000 if broadcast else 0, ip(ciaddr), ip(yiaddr), ip(siaddr), ip(giaddr),
                         mac.ljust(16, b"\0"), sname.ljust(64, b"\0"), file.ljust(128, b"\0"))
    return header + cookie + b"".join(options) + (b"\xff" if end else b"")


def module() -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "dhcpv4"}))


def event(data: bytes, *, from_client: bool = True, connection: Connection = CLIENT) -> dict[str, Any]:
    """The event of one datagram, checked against fields/."""
    m = module()
    direction = Direction.REQUEST if from_client else Direction.RESPONSE
    (message,) = m.parse_datagram(data, 100.0, direction, connection)
    (txn,) = m.correlator(connection).on_message(direction, message, 100.0)
    built = transaction_event("dhcpv4", txn, m.event_fields(txn))
    assert validate_event(built) == []
    return built
