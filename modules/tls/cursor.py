"""A bounded reader over wire bytes: every read past the end raises `ProtocolError`."""

from __future__ import annotations

from packetshipper.protocol import ProtocolError

__all__ = ["Cursor"]


class Cursor:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ProtocolError(f"truncated: wanted {n} bytes, {self.end - self.pos} left")
        start = self.pos
        self.pos = start + n
        return self.data[start:start + n]

    def u8(self) -> int:
        if self.pos >= self.end:
            raise ProtocolError("truncated: wanted 1 byte, 0 left")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        raw = self.take(2)
        return (raw[0] << 8) | raw[1]

    def u24(self) -> int:
        raw = self.take(3)
        return (raw[0] << 16) | (raw[1] << 8) | raw[2]

    def vector(self, length_bytes: int) -> Cursor:
        """A sub-cursor over the next length-prefixed vector (1, 2 or 3 length bytes)."""
        n = self.u8() if length_bytes == 1 else self.u16() if length_bytes == 2 else self.u24()
        if self.pos + n > self.end:
            raise ProtocolError(f"vector of {n} bytes runs past its container ({self.end - self.pos} left)")
        sub = Cursor(self.data, self.pos, self.pos + n)
        self.pos += n
        return sub

    def u16_list(self) -> tuple[int, ...]:
        if self.remaining % 2:
            raise ProtocolError("odd length for a list of 16-bit values")
        data, pos = self.data, self.pos
        values = tuple((data[i] << 8) | data[i + 1] for i in range(pos, self.end, 2))
        self.pos = self.end
        return values

    def rest(self) -> bytes:
        return self.take(self.remaining)
