"""The binary and compact protocols (Thrift's TBinaryProtocol and TCompactProtocol specs): one whole
RPC message decoded from the start of a buffer, every value rendered as Packetbeat renders it.

`Incomplete` means more bytes are needed; `ProtocolError` that the bytes are not a message.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from decimal import Decimal

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .render import string_value, struct_text

__all__ = ["Incomplete", "Limits", "Decoded", "decode_binary", "decode_compact", "COMPACT_ID"]

COMPACT_ID = 0x82
_MAX_DEPTH = 64


class Incomplete(Exception):
    """The buffer ends inside the message."""


@record
class Limits:
    string_max_size: int
    collection_max_size: int
    drop_after_n_struct_fields: int
    obfuscate_strings: bool = False


@record
class Decoded:
    method: str
    kind: int
    seqid: int
    fields: tuple[tuple[int, str], ...]
    size: int  # bytes the message took


def _double(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class _Reader:
    __slots__ = ("data", "pos", "limits")

    def __init__(self, data: bytes | bytearray, pos: int, limits: Limits) -> None:
        self.data = data
        self.pos = pos
        self.limits = limits

    def take(self, n: int) -> bytes:
        if n < 0:
            raise ProtocolError(f"negative length {n}")
        end = self.pos + n
        if end > len(self.data):
            raise Incomplete
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out

    def collection(self, size: int, item: Callable[[], str]) -> str:
        parts = []
        for i in range(size):
            value = item()
            if i < self.limits.collection_max_size:
                parts.append(value)
            elif i == self.limits.collection_max_size:
                parts.append("...")
        return ", ".join(parts)


# --- binary protocol ----------------------------------------------------------------------------------

_I16, _I32, _I64, _F64 = struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q"), struct.Struct(">d")
_BIN_TYPES = {2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16}


class _Binary(_Reader):
    def i32(self) -> int:
        return int(_I32.unpack(self.take(4))[0])

    def value(self, kind: int, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise ProtocolError("values nested too deep")
        if kind == 2:
            return "false" if self.take(1)[0] == 0 else "true"
        if kind == 3:
            return str(self.take(1)[0])  # Packetbeat prints a byte unsigned
        if kind == 4:
            return _double(_F64.unpack(self.take(8))[0])
        if kind == 6:
            return str(_I16.unpack(self.take(2))[0])
        if kind == 8:
            return str(self.i32())
        if kind == 10:
            return str(_I64.unpack(self.take(8))[0])
        if kind == 11:
            size = self.i32()
            return string_value(self.take(size), self.limits.string_max_size, self.limits.obfuscate_strings)
        if kind == 16:
            raw = self.take(16).hex()
            return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
        if kind == 12:
            return struct_text(self.fields(depth + 1), self.limits.collection_max_size)
        if kind == 13:
            key, val = self.take(1)[0], self.take(1)[0]
            _check(key)
            _check(val)
            size = self.i32()
            _check_size(size, self)
            return "{" + self.collection(size, lambda: f"{self.value(key, depth + 1)}: "
                                                       f"{self.value(val, depth + 1)}") + "}"
        if kind in (14, 15):
            elem = self.take(1)[0]
            _check(elem)
            size = self.i32()
            _check_size(size, self)
            text = self.collection(size, lambda: self.value(elem, depth + 1))
            if not text:
                return ""  # Packetbeat prints an empty list or set as nothing
            return ("{" + text + "}") if kind == 14 else ("[" + text + "]")
        raise ProtocolError(f"unknown field type {kind}")

    def fields(self, depth: int) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        while True:
            kind = self.take(1)[0]
            if kind == 0:
                return out
            if len(out) >= self.limits.drop_after_n_struct_fields:
                raise ProtocolError(f"more than {self.limits.drop_after_n_struct_fields} fields in a struct")
            _check(kind)
            fid = int(_I16.unpack(self.take(2))[0])
            out.append((fid, self.value(kind, depth)))


def _check(kind: int) -> None:
    if kind not in _BIN_TYPES:
        raise ProtocolError(f"unknown field type {kind}")


def _check_size(size: int, reader: _Reader) -> None:
    if size < 0:
        raise ProtocolError(f"collection of {size} elements")
    if size > len(reader.data) - reader.pos + 1 and size > 1 << 16:
        raise ProtocolError(f"collection of {size} elements in {len(reader.data) - reader.pos} bytes")


def decode_binary(data: bytes | bytearray, start: int, limits: Limits, max_name: int) -> Decoded:
    r = _Binary(data, start, limits)
    first = r.i32()
    if first < 0:  # strict: version word, then the name
        if (first & 0xFFFF0000) != 0x80010000:  # first is signed: & gives the word's unsigned bits
            raise ProtocolError(f"bad binary protocol version 0x{first & 0xFFFFFFFF:08x}")
        kind = first & 0xFF
        size = r.i32()
        name = _name(r, size, max_name)
    else:  # old style: the name first, then the type byte
        name = _name(r, first, max_name)
        kind = r.take(1)[0]
    seqid = r.i32()
    if kind not in (1, 2, 3, 4):
        raise ProtocolError(f"unknown message type {kind}")
    fields = tuple(r.fields(0))
    return Decoded(name, kind, seqid, fields, r.pos - start)


def _name(r: _Reader, size: int, max_name: int) -> str:
    if size < 0 or size > max_name:
        raise ProtocolError(f"method name of {size} bytes")
    raw = r.take(size)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("method name is not UTF-8") from exc


# --- compact protocol ---------------------------------------------------------------------------------

_C_BOOL_TRUE, _C_BOOL_FALSE = 1, 2
_C_TYPES = set(range(1, 13)) | {13}
_LE_F64 = struct.Struct("<d")


class _Compact(_Reader):
    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ProtocolError("varint longer than 10 bytes")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int, depth: int, *, in_collection: bool = False) -> str:
        if depth > _MAX_DEPTH:
            raise ProtocolError("values nested too deep")
        if kind in (_C_BOOL_TRUE, _C_BOOL_FALSE):
            if in_collection:
                return "true" if self.take(1)[0] == _C_BOOL_TRUE else "false"
            return "true" if kind == _C_BOOL_TRUE else "false"
        if kind == 3:
            return str(self.take(1)[0])
        if kind in (4, 5, 6):
            return str(self.zigzag())
        if kind == 7:
            return _double(_LE_F64.unpack(self.take(8))[0])
        if kind == 8:
            return string_value(self.take(self.varint()), self.limits.string_max_size,
                                self.limits.obfuscate_strings)
        if kind == 13:
            raw = self.take(16).hex()
            return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
        if kind == 12:
            return struct_text(self.fields(depth + 1), self.limits.collection_max_size)
        if kind in (9, 10):
            header = self.take(1)[0]
            size, elem = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            _check_size(size, self)
            if elem not in _C_TYPES:
                raise ProtocolError(f"unknown element type {elem}")
            text = self.collection(size, lambda: self.value(elem, depth + 1, in_collection=True))
            if not text:
                return ""
            return ("{" + text + "}") if kind == 10 else ("[" + text + "]")
        if kind == 11:
            size = self.varint()
            _check_size(size, self)
            if size == 0:
                return "{}"
            types = self.take(1)[0]
            key, val = types >> 4, types & 0x0F
            if key not in _C_TYPES or val not in _C_TYPES:
                raise ProtocolError(f"unknown map types 0x{types:02x}")
            return "{" + self.collection(size, lambda: f"{self.value(key, depth + 1, in_collection=True)}: "
                                                       f"{self.value(val, depth + 1, in_collection=True)}") + "}"
        raise ProtocolError(f"unknown compact type {kind}")

    def fields(self, depth: int) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        last = 0
        while True:
            header = self.take(1)[0]
            if header == 0:
                return out
            if len(out) >= self.limits.drop_after_n_struct_fields:
                raise ProtocolError(f"more than {self.limits.drop_after_n_struct_fields} fields in a struct")
            delta, kind = header >> 4, header & 0x0F
            if kind not in _C_TYPES:
                raise ProtocolError(f"unknown compact type {kind}")
            fid = last + delta if delta else self.zigzag()
            last = fid
            out.append((fid, self.value(kind, depth)))


def decode_compact(data: bytes | bytearray, start: int, limits: Limits, max_name: int) -> Decoded:
    r = _Compact(data, start, limits)
    if r.take(1)[0] != COMPACT_ID:
        raise ProtocolError("not a compact protocol message")
    version_type = r.take(1)[0]
    if version_type & 0x1F != 1:
        raise ProtocolError(f"compact protocol version {version_type & 0x1F}")
    kind = version_type >> 5
    seqid = r.varint()
    name = _name(r, r.varint(), max_name)
    if kind not in (1, 2, 3, 4):
        raise ProtocolError(f"unknown message type {kind}")
    fields = tuple(r.fields(0))
    return Decoded(name, kind, seqid, fields, r.pos - start)
