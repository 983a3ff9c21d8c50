"""A bounded XDR cursor (RFC 4506) over one RPC record, and the module's one error type.

Every read checks the bytes left first, so a short or lying record raises `NfsProtocolError`, never an
`IndexError` or `struct.error`.
"""

from __future__ import annotations

import struct

from packetshipper.protocol import ProtocolError

__all__ = ["NfsProtocolError", "XdrCursor", "MAX_OPAQUE", "MAX_VECTOR"]

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")

# Far above anything RPC puts in the fields this module reads (credentials are at most 400 bytes,
# RFC 5531 section 8.2), so only a lying length reaches them.
MAX_OPAQUE = 1 << 16
MAX_VECTOR = 1 << 12


class NfsProtocolError(ProtocolError):
    """The bytes are not an ONC RPC record this module can read."""


class XdrCursor:
    """Reads big-endian XDR items from `data[pos:]`."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _need(self, n: int, what: str) -> None:
        if n > len(self.data) - self.pos:
            raise NfsProtocolError(f"{what}: needs {n} bytes, {len(self.data) - self.pos} left at offset {self.pos}")

    def u32(self, what: str) -> int:
        self._need(4, what)
        (value,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, what: str) -> int:
        self._need(8, what)
        (value,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(value)

    def opaque(self, length: int, what: str) -> bytes:
        """Fixed-length opaque data: `length` bytes and the padding to a multiple of four."""
        if length > MAX_OPAQUE:
            raise NfsProtocolError(f"{what}: opaque length {length} over {MAX_OPAQUE}")
        padded = (length + 3) & ~3
        self._need(padded, what)
        value = self.data[self.pos : self.pos + length]
        self.pos += padded
        return bytes(value)

    def var_opaque(self, what: str) -> bytes:
        return self.opaque(self.u32(what), what)

    def skip_var_opaque(self, what: str) -> None:
        length = self.u32(what)
        padded = (length + 3) & ~3
        self._need(padded, what)
        self.pos += padded

    def u32_array(self, what: str) -> tuple[int, ...]:
        count = self.u32(what)
        if count > MAX_VECTOR:
            raise NfsProtocolError(f"{what}: {count} elements, over {MAX_VECTOR}")
        self._need(4 * count, what)
        values = struct.unpack_from(f"!{count}I", self.data, self.pos)
        self.pos += 4 * count
        return tuple(int(v) for v in values)
