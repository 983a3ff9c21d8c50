"""A bounded reader of the protocol's notations ([short], [string], [bytes], [inet], ...: spec section 3).

Every read checks what is left and raises `BodyError` when the body runs out or a value is impossible,
so a damaged body is reported from its header instead of read past its end.
"""

from __future__ import annotations

import ipaddress
import struct

from packetshipper.protocol import ProtocolError

from .codes import CONSISTENCY

__all__ = ["BodyError", "Cursor"]

_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")


class BodyError(ProtocolError):
    """The frame body does not hold what its opcode announces."""


class Cursor:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > len(self.data) - self.pos:
            raise BodyError(f"{n} bytes wanted, {len(self.data) - self.pos} left")
        start = self.pos
        self.pos += n
        return self.data[start:self.pos]

    def byte(self) -> int:
        return self.take(1)[0]

    def short(self) -> int:
        return int(_SHORT.unpack(self.take(2))[0])

    def int32(self) -> int:
        return int(_INT.unpack(self.take(4))[0])

    def int64(self) -> int:
        return int(_LONG.unpack(self.take(8))[0])

    def string(self) -> str:
        return self.take(self.short()).decode("utf-8", "replace")

    def long_string(self) -> str:
        n = self.int32()
        if n < 0:
            raise BodyError(f"long string of length {n}")
        return self.take(n).decode("utf-8", "replace")

    def value(self) -> bytes | None:
        n = self.int32()
        return None if n < 0 else self.take(n)

    def short_bytes(self) -> bytes:
        return self.take(self.short())

    def uuid(self) -> str:
        raw = self.take(16).hex()
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    def string_list(self) -> list[str]:
        return [self.string() for _ in range(self.short())]

    def string_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for _ in range(self.short()):
            key = self.string()
            out[key] = self.string()
        return out

    def string_multimap(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for _ in range(self.short()):
            key = self.string()
            out[key] = self.string_list()
        return out

    def bytes_map(self) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for _ in range(self.short()):
            key = self.string()
            out[key] = self.value()
        return out

    def inet(self) -> tuple[str, int]:
        size = self.byte()
        if size not in (4, 16):
            raise BodyError(f"inet address of {size} bytes")
        address = str(ipaddress.ip_address(self.take(size)))
        return address, self.int32()

    def consistency(self) -> str:
        code = self.short()
        return CONSISTENCY.get(code, f"UNKNOWN_CONS_0x{code:x}")
