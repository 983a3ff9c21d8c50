"""The OPT pseudo-record (RFC 6891): its header bits and the options Packetbeat reports."""

from __future__ import annotations

import socket
from collections.abc import Callable

from .codes import algorithm_name, digest_name
from .messages import Edns
from .wire import DnsProtocolError, WireCursor

__all__ = ["decode_opt"]

_DO_BIT = 0x8000


def _hex(data: bytes) -> str:
    return data.hex()


def _subnet(data: bytes) -> str:
    """Client subnet (RFC 7871) as `address/source-prefix/scope-prefix`."""
    cur = WireCursor(data)
    family = cur.u16("client subnet family")
    source = cur.u8("client subnet source prefix")
    scope = cur.u8("client subnet scope prefix")
    address = cur.take(cur.remaining, "client subnet address")
    if family == 1 and len(address) <= 4:
        text = socket.inet_ntop(socket.AF_INET, address.ljust(4, b"\0"))
    elif family == 2 and len(address) <= 16:
        text = socket.inet_ntop(socket.AF_INET6, address.ljust(16, b"\0"))
    else:
        raise DnsProtocolError(f"client subnet family {family} with {len(address)} address bytes")
    return f"{text}/{source}/{scope}"


def _algorithms(data: bytes) -> str:
    return " ".join(algorithm_name(b) for b in data)


def _digests(data: bytes) -> str:
    return " ".join(digest_name(b) for b in data)


def _number(data: bytes) -> str:
    return str(int.from_bytes(data, "big")) if data else ""


def _llq(data: bytes) -> str:
    cur = WireCursor(data)
    version, opcode, error = cur.u16("LLQ version"), cur.u16("LLQ opcode"), cur.u16("LLQ error")
    llq_id = int.from_bytes(cur.take(8, "LLQ id"), "big")
    lease = cur.u32("LLQ lease")
    return f"{version} {opcode} {error} {llq_id} {lease}"


# option code -> (Packetbeat's key under dns.opt, how to print the option's data)
_OPTIONS: dict[int, tuple[str, Callable[[bytes], str]]] = {
    1: ("llq", _llq),
    2: ("ul", _number),
    3: ("nsid", _hex),
    5: ("dau", _algorithms),
    6: ("dhu", _digests),
    7: ("n3u", _digests),
    8: ("subnet", _subnet),
    9: ("expire", _number),
    10: ("cookie", _hex),
}
_LOCAL_OPTIONS = range(65001, 65535)


def decode_opt(rclass: int, ttl: int, cur: WireCursor) -> Edns:
    """An OPT record's class carries the UDP size and its TTL the extended rcode, version and DO bit."""
    options: list[tuple[str, str]] = []
    while cur.remaining:
        code = cur.u16("EDNS option code")
        data = cur.take(cur.u16("EDNS option length"), "EDNS option data")
        known = _OPTIONS.get(code)
        if known is not None:
            key, render = known
            try:
                options.append((key, render(data)))
            except DnsProtocolError:
                options.append((key, data.hex()))
        elif code in _LOCAL_OPTIONS:
            options.append(("local", "0x" + data.hex()))
    return Edns(
        udp_size=rclass,
        ext_rcode=ttl >> 24,
        version=(ttl >> 16) & 0xFF,
        dnssec_ok=bool(ttl & _DO_BIT),
        options=tuple(options),
    )
