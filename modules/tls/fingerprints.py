"""JA3 and JA3S (Salesforce's definition) and JA4 (FoxIO's), from the hellos as sent.

JA3:  md5("Version,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats"), decimal values
      joined by "-", GREASE values (RFC 8701) removed.
JA3S: md5("Version,Cipher,Extensions") of the ServerHello.
JA4:  "t" + version + ("d" SNI / "i" none) + cipher count + extension count + ALPN first/last character,
      "_" + sha256 of the sorted cipher list (hex, comma separated)[:12],
      "_" + sha256 of the sorted extension list without SNI and ALPN, "_", the signature algorithms in
      the order sent [:12].
"""

from __future__ import annotations

import hashlib

from packetshipper.protocol import ProtocolError

from .cursor import Cursor
from .extensions import ALPN, SNI, alpn_protocols, supported_versions
from .messages import Hello
from .names import is_grease

__all__ = ["ja3", "ja3_string", "ja3s", "ja3s_string", "ja4"]

GROUPS, POINT_FORMATS, SIGNATURE_ALGORITHMS = 10, 11, 13


def _list16(hello: Hello, code: int, length_bytes: int = 2) -> list[int]:
    data = hello.extension(code)
    if data is None:
        return []
    try:
        cur = Cursor(data)
        inner = cur.vector(length_bytes)
        return [v for v in inner.u16_list() if not is_grease(v)]
    except ProtocolError:
        return []


def _point_formats(hello: Hello) -> list[int]:
    data = hello.extension(POINT_FORMATS)
    if data is None:
        return []
    try:
        return list(Cursor(data).vector(1).rest())
    except ProtocolError:
        return []


def _dashed(values: list[int]) -> str:
    return "-".join(str(v) for v in values)


def _extension_codes(hello: Hello) -> list[int]:
    return [e.code for e in hello.extensions if not is_grease(e.code)]


def ja3_string(hello: Hello) -> str:
    ciphers = [c for c in hello.cipher_suites if not is_grease(c)]
    return ",".join([str(hello.version), _dashed(ciphers), _dashed(_extension_codes(hello)),
                     _dashed(_list16(hello, GROUPS)), _dashed(_point_formats(hello))])


def ja3(hello: Hello) -> str:
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


def ja3s_string(hello: Hello) -> str:
    return ",".join([str(hello.version), str(hello.cipher_suites[0]), _dashed(_extension_codes(hello))])


def ja3s(hello: Hello) -> str:
    return hashlib.md5(ja3s_string(hello).encode(), usedforsecurity=False).hexdigest()


_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(hello: Hello) -> str:
    data = hello.extension(ALPN)
    if data is None or not alpn_protocols(hello):
        return "00"
    first = Cursor(data).vector(2).vector(1).rest()  # decoded once already: cannot fail here
    if not first:
        return "00"
    a, b = first[0], first[-1]
    if _alnum(a) and _alnum(b):
        return chr(a) + chr(b)
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4(hello: Hello, transport: str = "t") -> str:
    versions = supported_versions(hello)
    version = _JA4_VERSIONS.get(max(versions) if versions else hello.version, "00")
    sni = "d" if hello.extension(SNI) is not None else "i"
    ciphers = [c for c in hello.cipher_suites if not is_grease(c)]
    extensions = _extension_codes(hello)
    part_a = f"{transport}{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_ja4_alpn(hello)}"
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers))) if ciphers else "000000000000"
    kept = sorted(f"{e:04x}" for e in extensions if e != SNI and e != ALPN)
    if not kept:
        part_c = "000000000000"
    else:
        text = ",".join(kept)
        algorithms = _list16(hello, SIGNATURE_ALGORITHMS)
        if algorithms:
            text += "_" + ",".join(f"{a:04x}" for a in algorithms)
        part_c = _sha12(text)
    return f"{part_a}_{part_b}_{part_c}"
