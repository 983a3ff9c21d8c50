"""RDATA decoders: one function per record type, chosen from a table; anything else in generic form.

Each decoder reads from a cursor bounded to the record's RDATA and returns `(data, details, address)`
in Packetbeat's shape: `data` is the main value, `details` the type's other fields.
"""

from __future__ import annotations

import base64
import socket
import struct
import time
from collections.abc import Callable

from .codes import algorithm_name, digest_name, type_name
from .messages import Detail
from .names import read_name, trim_dot
from .wire import DnsProtocolError, WireCursor

__all__ = ["decode_rdata", "escape_bytes", "DECODERS"]

Decoded = tuple[str, tuple[Detail, ...], str | None]
Decoder = Callable[[WireCursor], Decoded]

_SOA_NUMBERS = struct.Struct("!IIIII")
_SRV_NUMBERS = struct.Struct("!HHH")
_DS_FIXED = struct.Struct("!HBB")
_DNSKEY_FIXED = struct.Struct("!HBB")
_RRSIG_FIXED = struct.Struct("!HBBIIIH")
_NSEC3_FIXED = struct.Struct("!BBH")


def escape_bytes(raw: bytes) -> str:
    """Packetbeat's text for bytes of unknown meaning: printable ASCII kept, the rest `\\DDD`."""
    return "".join(_GENERIC[b] for b in raw)


_GENERIC = [chr(b) if 32 <= b < 127 else f"\\{b:03d}" for b in range(256)]
_GENERIC[ord('"')] = '\\"'
_GENERIC[ord("\\")] = "\\\\"
_GENERIC[ord("\t")] = "\\t"
_GENERIC[ord("\r")] = "\\r"
_GENERIC[ord("\n")] = "\\n"

# Character-strings (TXT, CAA values, NAPTR fields): quotes and backslashes escaped, binary as \DDD.
_TEXT = [chr(b) if 32 <= b < 127 else f"\\{b:03d}" for b in range(256)]
_TEXT[ord('"')] = '\\"'
_TEXT[ord("\\")] = "\\\\"


def _text(raw: bytes) -> str:
    return "".join(_TEXT[b] for b in raw)


def _character_string(cur: WireCursor, what: str) -> bytes:
    return cur.take(cur.u8(what), what)


def _a(cur: WireCursor) -> Decoded:
    address = socket.inet_ntop(socket.AF_INET, cur.take(4, "A address"))
    return address, (), address


def _aaaa(cur: WireCursor) -> Decoded:
    address = socket.inet_ntop(socket.AF_INET6, cur.take(16, "AAAA address"))
    return address, (), address


def _target(cur: WireCursor) -> Decoded:
    return trim_dot(read_name(cur, "target name")), (), None


def _mx(cur: WireCursor) -> Decoded:
    preference = cur.u16("MX preference")
    return trim_dot(read_name(cur, "MX exchange")), (("preference", preference),), None


def _txt(cur: WireCursor) -> Decoded:
    parts = []
    while cur.remaining:
        parts.append(_text(_character_string(cur, "TXT string")))
    return " ".join(parts), (), None


def _soa(cur: WireCursor) -> Decoded:
    mname = read_name(cur, "SOA mname")
    rname = read_name(cur, "SOA rname")
    serial, refresh, retry, expire, minimum = cur.unpack(_SOA_NUMBERS, "SOA numbers")
    details: tuple[Detail, ...] = (
        ("rname", trim_dot(rname)),
        ("serial", serial),
        ("refresh", refresh),
        ("retry", retry),
        ("expire", expire),
        ("minimum", minimum),
    )
    return trim_dot(mname), details, None


def _srv(cur: WireCursor) -> Decoded:
    priority, weight, port = cur.unpack(_SRV_NUMBERS, "SRV numbers")
    target = trim_dot(read_name(cur, "SRV target"))
    return target, (("priority", priority), ("weight", weight), ("port", port)), None


def _caa(cur: WireCursor) -> Decoded:
    flags = cur.u8("CAA flags")
    tag = _text(_character_string(cur, "CAA tag"))
    value = _text(cur.take(cur.remaining, "CAA value"))
    return value, (("flags", str(flags)), ("tag", tag)), None


def _naptr(cur: WireCursor) -> Decoded:
    order = cur.u16("NAPTR order")
    preference = cur.u16("NAPTR preference")
    flags = _text(_character_string(cur, "NAPTR flags"))
    service = _text(_character_string(cur, "NAPTR service"))
    regexp = _text(_character_string(cur, "NAPTR regexp"))
    replacement = trim_dot(read_name(cur, "NAPTR replacement"))
    details: tuple[Detail, ...] = (
        ("order", order),
        ("preference", preference),
        ("flags", flags),
        ("service", service),
        ("regexp", regexp),
    )
    return replacement, details, None


def _ds(cur: WireCursor) -> Decoded:
    key_tag, algorithm, digest_type = cur.unpack(_DS_FIXED, "DS fields")
    digest = cur.take(cur.remaining, "DS digest").hex().upper()
    details: tuple[Detail, ...] = (
        ("key_tag", str(key_tag)),
        ("algorithm", algorithm_name(algorithm)),
        ("digest_type", digest_name(digest_type)),
    )
    return digest, details, None


def _dnskey(cur: WireCursor) -> Decoded:
    flags, protocol, algorithm = cur.unpack(_DNSKEY_FIXED, "DNSKEY fields")
    key = base64.b64encode(cur.take(cur.remaining, "DNSKEY key")).decode("ascii")
    details: tuple[Detail, ...] = (
        ("flags", str(flags)),
        ("protocol", str(protocol)),
        ("algorithm", algorithm_name(algorithm)),
    )
    return key, details, None


def _rrsig(cur: WireCursor) -> Decoded:
    covered, algorithm, labels, original_ttl, expiration, inception, key_tag = cur.unpack(
        _RRSIG_FIXED, "RRSIG fields"
    )
    signer = trim_dot(read_name(cur, "RRSIG signer"))
    signature = base64.b64encode(cur.take(cur.remaining, "RRSIG signature")).decode("ascii")
    details: tuple[Detail, ...] = (
        ("type_covered", type_name(covered)),
        ("algorithm", algorithm_name(algorithm)),
        ("labels", str(labels)),
        ("original_ttl", str(original_ttl)),
        ("expiration", _sig_time(expiration)),
        ("inception", _sig_time(inception)),
        ("key_tag", str(key_tag)),
        ("signer_name", signer),
    )
    return signature, details, None


def _sig_time(seconds: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))


def _type_bitmap(cur: WireCursor) -> str:
    """RFC 4034 4.1.2: windows of up to 32 bytes, one bit per type, most significant bit first."""
    names = []
    while cur.remaining:
        window = cur.u8("type bitmap window")
        size = cur.u8("type bitmap length")
        if not 1 <= size <= 32:
            raise DnsProtocolError(f"type bitmap window {window} has length {size}")
        for index, byte in enumerate(cur.take(size, "type bitmap")):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    names.append(type_name(window * 256 + index * 8 + bit))
    return " ".join(names)


def _nsec(cur: WireCursor) -> Decoded:
    # Packetbeat keeps the trailing dot on NSEC's next domain name.
    next_domain = read_name(cur, "NSEC next domain")
    return next_domain, (("type_bits", _type_bitmap(cur)),), None


def _salt(cur: WireCursor) -> str:
    return _character_string(cur, "NSEC3 salt").hex().upper() or "-"


def _nsec3(cur: WireCursor) -> Decoded:
    hash_algorithm, flags, iterations = cur.unpack(_NSEC3_FIXED, "NSEC3 fields")
    salt = _salt(cur)
    next_owner = base64.b32hexencode(_character_string(cur, "NSEC3 next owner")).decode("ascii").rstrip("=")
    details: tuple[Detail, ...] = (
        ("hash", digest_name(hash_algorithm)),
        ("flags", str(flags)),
        ("iterations", str(iterations)),
        ("salt", salt),
        ("type_bits", _type_bitmap(cur)),
    )
    return next_owner, details, None


def _nsec3param(cur: WireCursor) -> Decoded:
    hash_algorithm, flags, iterations = cur.unpack(_NSEC3_FIXED, "NSEC3PARAM fields")
    details: tuple[Detail, ...] = (
        ("hash", digest_name(hash_algorithm)),
        ("flags", str(flags)),
        ("iterations", str(iterations)),
    )
    return _salt(cur), details, None


DECODERS: dict[int, Decoder] = {
    1: _a,
    2: _target,  # NS
    5: _target,  # CNAME
    6: _soa,
    12: _target,  # PTR
    15: _mx,
    16: _txt,
    28: _aaaa,
    33: _srv,
    35: _naptr,
    39: _target,  # DNAME
    43: _ds,
    46: _rrsig,
    47: _nsec,
    48: _dnskey,
    50: _nsec3,
    51: _nsec3param,
    257: _caa,
}


def decode_rdata(rtype: int, cur: WireCursor) -> tuple[str, tuple[Detail, ...], str | None, bool]:
    """Decode the RDATA under `cur` (bounded to it). Returns (data, details, address, malformed)."""
    start = cur.pos
    decoder = DECODERS.get(rtype)
    if decoder is not None:
        try:
            data, details, address = decoder(cur)
            if not cur.remaining:
                return data, details, address, False
        except DnsProtocolError:
            pass
    raw = cur.data[start : cur.end]
    cur.pos = cur.end
    return escape_bytes(raw), (), None, decoder is not None
