"""AMQP 0-9-1 wire types (amqp0-9-1.pdf section 4.2): a bounded cursor, field tables and arrays.

Every read goes through `Cursor`, which raises `AmqpProtocolError` when the data runs out; a
length-prefixed table is read under its own limit and must be consumed exactly.
"""

from __future__ import annotations

import datetime
import struct
from decimal import Decimal
from typing import Any

from packetshipper.protocol import ProtocolError

__all__ = ["AmqpProtocolError", "Cursor", "timestamp_text"]

_U8, _U16, _U32, _U64 = struct.Struct(">B"), struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_I8, _I16, _I32, _I64 = struct.Struct(">b"), struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q")
_F32, _F64 = struct.Struct(">f"), struct.Struct(">d")
_MAX_DEPTH = 16


class AmqpProtocolError(ProtocolError):
    """Bytes that are not AMQP 0-9-1."""


def timestamp_text(seconds: int) -> str:
    """Packetbeat's rendering of an AMQP timestamp (seconds since the epoch, UTC)."""
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


class Cursor:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise AmqpProtocolError("truncated AMQP data")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def _unpack(self, s: struct.Struct) -> Any:
        return s.unpack(self.take(s.size))[0]

    def octet(self) -> int:
        return int(self._unpack(_U8))

    def short(self) -> int:
        return int(self._unpack(_U16))

    def long(self) -> int:
        return int(self._unpack(_U32))

    def longlong(self) -> int:
        return int(self._unpack(_U64))

    def shortstr(self) -> str:
        return self.take(self.octet()).decode("utf-8", "replace")

    def longstr(self) -> bytes:
        return self.take(self.long())

    def table(self, depth: int = 0) -> dict[str, Any]:
        size = self.long()
        if self.pos + size > self.end:
            raise AmqpProtocolError("field table longer than its frame")
        inner = Cursor(self.data, self.pos, self.pos + size)
        self.pos += size
        out: dict[str, Any] = {}
        while inner.pos < inner.end:
            name = inner.shortstr()
            out[name] = inner.value(depth + 1)
        return out

    def array(self, depth: int) -> list[Any]:
        size = self.long()
        if self.pos + size > self.end:
            raise AmqpProtocolError("field array longer than its frame")
        inner = Cursor(self.data, self.pos, self.pos + size)
        self.pos += size
        out = []
        while inner.pos < inner.end:
            out.append(inner.value(depth + 1))
        return out

    def value(self, depth: int) -> Any:
        """One typed field value (the RabbitMQ/0-9-1 errata type letters)."""
        if depth > _MAX_DEPTH:
            raise AmqpProtocolError("field tables nested too deep")
        kind = self.take(1)
        reader = _VALUE_READERS.get(kind)
        if reader is None:
            raise AmqpProtocolError(f"unknown field value type {kind!r}")
        return reader(self, depth)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _decimal(c: Cursor, depth: int) -> float:
    scale, value = c.octet(), int(c._unpack(_I32))
    return float(Decimal(value).scaleb(-scale))


_VALUE_READERS: dict[bytes, Any] = {
    b"t": lambda c, d: c.octet() != 0,
    b"b": lambda c, d: int(c._unpack(_I8)),
    b"B": lambda c, d: c.octet(),
    b"s": lambda c, d: int(c._unpack(_I16)),
    b"u": lambda c, d: c.short(),
    b"I": lambda c, d: int(c._unpack(_I32)),
    b"i": lambda c, d: c.long(),
    b"l": lambda c, d: int(c._unpack(_I64)),
    b"f": lambda c, d: float(c._unpack(_F32)),
    b"d": lambda c, d: float(c._unpack(_F64)),
    b"D": _decimal,
    b"S": lambda c, d: _text(c.longstr()),
    b"x": lambda c, d: _text(c.longstr()),
    b"A": lambda c, d: c.array(d),
    b"T": lambda c, d: timestamp_text(c.longlong()),
    b"F": lambda c, d: c.table(d),
    b"V": lambda c, d: None,
}
