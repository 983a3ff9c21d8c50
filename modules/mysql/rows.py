"""Column definitions and the values of result rows: text rows (length-encoded strings, 0xFB for NULL)
and binary rows (a NULL bitmap, then each value in its column's binary form)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .values import NULL_TEXT, binary_value
from .wire import Cursor

__all__ = ["Column", "read_column", "text_values", "binary_values"]

_UNSIGNED_FLAG = 0x20
_CACHED_COLUMN_SIZE = 256
_NULL = NULL_TEXT.encode()


@record
class Column:
    name: str
    schema: str
    table: str
    type: int
    unsigned: bool


def read_column(payload: bytes) -> Column:
    """A column definition. The same query's definitions repeat byte for byte: short ones are cached."""
    return _cached_column(payload) if len(payload) <= _CACHED_COLUMN_SIZE else _parse_column(payload)


def _parse_column(payload: bytes) -> Column:
    c = Cursor(payload)
    c.lenenc_bytes()  # catalog
    schema = c.lenenc_bytes().decode("utf-8", "replace")
    table = c.lenenc_bytes().decode("utf-8", "replace")
    c.lenenc_bytes()  # original table
    name = c.lenenc_bytes().decode("utf-8", "replace")
    c.lenenc_bytes()  # original name
    field_type, flags = 0xFD, 0
    try:
        fixed = Cursor(c.lenenc_bytes())  # 0x0c bytes: charset, length, type, flags, decimals
        fixed.u16()
        fixed.u32()
        field_type = fixed.u8()
        flags = fixed.u16()
    except ProtocolError:
        pass  # a column without its fixed part: read as text
    return Column(name, schema, table, field_type, bool(flags & _UNSIGNED_FLAG))


_cached_column = functools.lru_cache(maxsize=512)(_parse_column)


def text_values(payload: bytes) -> Iterator[bytes]:
    c = Cursor(payload)
    while c.remaining:
        if c.data[c.pos] == 0xFB:
            c.pos += 1
            yield _NULL
        else:
            yield c.lenenc_bytes()


def binary_values(payload: bytes, columns: Sequence[Column]) -> Iterator[bytes]:
    c = Cursor(payload, 1)  # after the 0x00 header
    bitmap = c.fixed((len(columns) + 7 + 2) // 8)  # the binary row's NULL bitmap starts at bit 2
    for index, column in enumerate(columns):
        bit = index + 2
        if bitmap[bit // 8] >> (bit % 8) & 1:
            yield _NULL
        else:
            yield binary_value(c, column.type, column.unsigned).encode()
