"""PostgreSQL wire format (protocol 3.0): message type bytes, fixed headers, and a bounded cursor.

Every read goes through `Cursor`, which raises `ProtocolError` when a message body is shorter than
what it claims to hold, so a lying length never becomes an `IndexError` or a `struct.error`.
"""

from __future__ import annotations

import struct

from packetshipper.protocol import ProtocolError

__all__ = [
    "Cursor",
    "HEADER",
    "UNTYPED_HEADER",
    "INT16",
    "INT32",
    "PROTOCOL_3",
    "SSL_REQUEST_CODE",
    "GSSENC_REQUEST_CODE",
    "CANCEL_REQUEST_CODE",
    "FRONTEND_TYPES",
    "BACKEND_TYPES",
    "decode_text",
]

HEADER = struct.Struct("!cI")  # type byte, length (counting itself, not the type byte)
UNTYPED_HEADER = struct.Struct("!II")  # StartupMessage / SSLRequest / CancelRequest: length, code
INT16 = struct.Struct("!h")
INT32 = struct.Struct("!i")

PROTOCOL_3 = 196608  # 3 << 16: StartupMessage of protocol 3.0
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102

# The type bytes each side may send (PostgreSQL docs, "Message Formats").
FRONTEND_TYPES = frozenset(b"BCcdDEfFHpPQSX")
BACKEND_TYPES = frozenset(b"123AcCdDEGHIKnNRsStTVvWZ")


def decode_text(raw: bytes | bytearray | memoryview) -> str:
    """Server text as a str; bytes that are not UTF-8 become U+FFFD instead of failing."""
    return bytes(raw).decode("utf-8", "replace")


class Cursor:
    """Reads big-endian fields and NUL-terminated strings from `data[start:end]`, never past `end`."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes | bytearray, start: int, end: int) -> None:
        self.data = data
        self.pos = start
        self.end = end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        if n < 0 or n > self.end - self.pos:
            raise ProtocolError(f"pgsql: {what} needs {n} bytes, {self.end - self.pos} left")

    def byte(self, what: str) -> int:
        self._need(1, what)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def int16(self, what: str) -> int:
        self._need(2, what)
        (value,) = INT16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self, what: str) -> int:
        self._need(4, what)
        (value,) = INT32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def skip(self, n: int, what: str) -> None:
        self._need(n, what)
        self.pos += n

    def take(self, n: int, what: str) -> bytes:
        self._need(n, what)
        start = self.pos
        self.pos += n
        return bytes(self.data[start : self.pos])

    def cstring(self, what: str) -> str:
        """A NUL-terminated string (the NUL consumed, not returned)."""
        stop = self.data.find(b"\x00", self.pos, self.end)
        if stop < 0:
            raise ProtocolError(f"pgsql: {what} has no terminating NUL")
        value = decode_text(self.data[self.pos : stop])
        self.pos = stop + 1
        return value
