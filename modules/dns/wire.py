"""A bounded read cursor over one DNS message, and the module's one error type.

Every read checks the bytes left first, so a short or lying message raises `DnsProtocolError` and
never an `IndexError` or `struct.error`.
"""

from __future__ import annotations

import struct

from packetshipper.protocol import ProtocolError

__all__ = ["DnsProtocolError", "WireCursor"]

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class DnsProtocolError(ProtocolError):
    """The bytes are not a DNS message this module can read."""


class WireCursor:
    """Reads big-endian fields from `data[start:end]`; the whole buffer stays visible for name pointers."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, n: int, what: str) -> None:
        if n > self.end - self.pos:
            raise DnsProtocolError(f"{what}: needs {n} bytes, {self.end - self.pos} left at offset {self.pos}")

    def u8(self, what: str) -> int:
        self.need(1, what)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, what: str) -> int:
        self.need(2, what)
        (value,) = _U16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(value)

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def take(self, n: int, what: str) -> bytes:
        self.need(n, what)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(chunk)

    def unpack(self, layout: struct.Struct, what: str) -> tuple[int, ...]:
        self.need(layout.size, what)
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def sub(self, n: int, what: str) -> WireCursor:
        """A cursor over the next `n` bytes (an RDATA), advancing this one past them."""
        self.need(n, what)
        inner = WireCursor(self.data, self.pos, self.pos + n)
        self.pos += n
        return inner
