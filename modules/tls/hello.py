"""ClientHello and ServerHello bodies (RFC 8446 section 4.1.2 and 4.1.3; RFC 5246 section 7.4.1)."""

from __future__ import annotations

from packetshipper.protocol import ProtocolError

from .cursor import Cursor
from .messages import Extension, Hello, HelloKind

__all__ = ["parse_hello", "MAX_SESSION_ID"]

MAX_SESSION_ID = 32
RANDOM_LENGTH = 32


def _common(cur: Cursor) -> tuple[int, bytes, bytes]:
    version = cur.u16()
    if version >> 8 != 3:
        raise ProtocolError(f"not a TLS hello: version {version >> 8}.{version & 0xFF}")
    random = cur.take(RANDOM_LENGTH)
    sid_len = cur.u8()
    if sid_len > MAX_SESSION_ID:
        raise ProtocolError(f"session id of {sid_len} bytes (at most {MAX_SESSION_ID})")
    return version, random, cur.take(sid_len)


def _extensions(cur: Cursor) -> tuple[Extension, ...]:
    if cur.remaining == 0:  # extensions are optional before TLS 1.3
        return ()
    block = cur.vector(2)
    out = []
    while block.remaining:
        code = block.u16()
        out.append(Extension(code, block.vector(2).rest()))
    return tuple(out)


def parse_hello(kind: HelloKind, body: bytes, ts: float, started: float, offset: int) -> Hello:
    cur = Cursor(body)
    version, random, session_id = _common(cur)
    if kind is HelloKind.CLIENT:
        ciphers = cur.vector(2)
        if ciphers.remaining % 2:
            raise ProtocolError("odd cipher_suites length")
        suites = ciphers.u16_list()
        compression = tuple(cur.vector(1).rest())
    else:
        suites = (cur.u16(),)
        compression = (cur.u8(),)
    extensions = _extensions(cur)
    # Bytes after the extensions block: tolerated (as Packetbeat), not interpreted.
    return Hello(kind, version, random, session_id, suites, compression, extensions, body, ts, started, offset)
