"""Builds DNS wire bytes from meaning (RFC 1035 layouts), for the DNS tests.

Names are written uncompressed; tests that need compression pointers write those bytes by hand.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, NAPTR, OPT, DS, RRSIG, NSEC, DNSKEY, CAA = (
    1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 41, 43, 46, 47, 48, 257,
)  # fmt: skip
IN = 1


def name(text: str) -> bytes:
    """`www.example.com` or `www.example.com.` -> length-prefixed labels ending in the root byte."""
    out = bytearray()
    for label in text.rstrip(".").split(".") if text not in ("", ".") else []:
        raw = label.encode("latin-1")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def raw_name(*labels: bytes) -> bytes:
    out = bytearray()
    for label in labels:
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def flags(
    qr: bool = False,
    opcode: int = 0,
    aa: bool = False,
    tc: bool = False,
    rd: bool = False,
    ra: bool = False,
    ad: bool = False,
    cd: bool = False,
    rcode: int = 0,
) -> int:
    return (
        qr << 15 | opcode << 11 | aa << 10 | tc << 9 | rd << 8 | ra << 7 | ad << 5 | cd << 4 | rcode
    )


def question(qname: str, qtype: int = A, qclass: int = IN) -> bytes:
    return name(qname) + struct.pack("!HH", qtype, qclass)


def rr(owner: str, rtype: int, rdata: bytes, ttl: int = 300, rclass: int = IN) -> bytes:
    return name(owner) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def message(
    ident: int = 0x1234,
    header_flags: int = 0,
    questions: Sequence[bytes] = (),
    answers: Sequence[bytes] = (),
    authorities: Sequence[bytes] = (),
    additionals: Sequence[bytes] = (),
) -> bytes:
    head = struct.pack(
        "!HHHHHH", ident, header_flags, len(questions), len(answers), len(authorities), len(additionals)
    )
    return head + b"".join([*questions, *answers, *authorities, *additionals])


def query(qname: str, qtype: int = A, ident: int = 0x1234, rd: bool = True, extra: Sequence[bytes] = ()) -> bytes:
    return message(ident, flags(rd=rd), [question(qname, qtype)], additionals=extra)


def tcp(msg: bytes) -> bytes:
    return struct.pack("!H", len(msg)) + msg


# --- RDATA -----------------------------------------------------------------------------------------


def a(address: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, address)


def aaaa(address: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, address)


def mx(preference: int, exchange: str) -> bytes:
    return struct.pack("!H", preference) + name(exchange)


def character_strings(*texts: bytes) -> bytes:
    return b"".join(bytes([len(t)]) + t for t in texts)


def soa(mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int, minimum: int) -> bytes:
    return name(mname) + name(rname) + struct.pack("!IIIII", serial, refresh, retry, expire, minimum)


def srv(priority: int, weight: int, port: int, target: str) -> bytes:
    return struct.pack("!HHH", priority, weight, port) + name(target)


def caa(flag: int, tag: bytes, value: bytes) -> bytes:
    return bytes([flag, len(tag)]) + tag + value


def naptr(order: int, preference: int, naptr_flags: bytes, service: bytes, regexp: bytes, replacement: str) -> bytes:
    return struct.pack("!HH", order, preference) + character_strings(naptr_flags, service, regexp) + name(replacement)


def ds(key_tag: int, algorithm: int, digest_type: int, digest: bytes) -> bytes:
    return struct.pack("!HBB", key_tag, algorithm, digest_type) + digest


def dnskey(key_flags: int, protocol: int, algorithm: int, key: bytes) -> bytes:
    return struct.pack("!HBB", key_flags, protocol, algorithm) + key


def rrsig(
    covered: int, algorithm: int, labels: int, original_ttl: int, expiration: int, inception: int,
    key_tag: int, signer: str, signature: bytes,
) -> bytes:  # fmt: skip
    fixed = struct.pack("!HBBIIIH", covered, algorithm, labels, original_ttl, expiration, inception, key_tag)
    return fixed + name(signer) + signature


def type_bitmap(types: Iterable[int]) -> bytes:
    windows: dict[int, bytearray] = {}
    for rtype in sorted(types):
        window, low = divmod(rtype, 256)
        bits = windows.setdefault(window, bytearray())
        index = low // 8
        while len(bits) <= index:
            bits.append(0)
        bits[index] |= 0x80 >> (low % 8)
    return b"".join(bytes([w, len(bits)]) + bytes(bits) for w, bits in sorted(windows.items()))


def nsec(next_domain: str, types: Iterable[int]) -> bytes:
    return name(next_domain) + type_bitmap(types)


def opt(
    udp_size: int = 1232,
    ext_rcode: int = 0,
    version: int = 0,
    do: bool = False,
    options: Sequence[tuple[int, bytes]] = (),
) -> bytes:
    """The OPT pseudo-record: root owner, class = UDP size, TTL = ext-rcode | version | DO."""
    ttl = ext_rcode << 24 | version << 16 | (0x8000 if do else 0)
    rdata = b"".join(struct.pack("!HH", code, len(data)) + data for code, data in options)
    return b"\x00" + struct.pack("!HHIH", OPT, udp_size, ttl, len(rdata)) + rdata
