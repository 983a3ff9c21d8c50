"""Values of the binary protocol (COM_STMT_EXECUTE parameters and binary result rows) as text.

Dates render as Packetbeat renders execute parameters (`2017/7/28 0:0:0`: no zero padding), so
`params` match what Packetbeat users already see.
"""

from __future__ import annotations

from collections.abc import Callable

from packetshipper.protocol import ProtocolError

from .wire import Cursor, FieldType

__all__ = ["binary_value", "NULL_TEXT"]

NULL_TEXT = "NULL"


def _integer(size: int) -> Callable[[Cursor, bool], str]:
    def read(cursor: Cursor, unsigned: bool) -> str:
        return str(cursor.unsigned(size) if unsigned else cursor.signed(size))
    return read


def _float(cursor: Cursor, unsigned: bool) -> str:
    return repr(cursor.f32())


def _double(cursor: Cursor, unsigned: bool) -> str:
    return repr(cursor.f64())


def _datetime(cursor: Cursor, unsigned: bool) -> str:
    length = cursor.u8()
    part = Cursor(cursor.fixed(length))
    year = part.u16() if length >= 2 else 0
    month, day = (part.u8(), part.u8()) if length >= 4 else (0, 0)
    hour, minute, second = (part.u8(), part.u8(), part.u8()) if length >= 7 else (0, 0, 0)
    text = f"{year}/{month}/{day} {hour}:{minute}:{second}"
    micros = part.u32() if length >= 11 else 0
    return f"{text}.{micros:06d}" if micros else text


def _time(cursor: Cursor, unsigned: bool) -> str:
    length = cursor.u8()
    part = Cursor(cursor.fixed(length))
    if length < 8:
        return "0:0:0"
    negative, days = part.u8(), part.u32()
    hour, minute, second = part.u8(), part.u8(), part.u8()
    text = f"{'-' if negative else ''}{days * 24 + hour}:{minute}:{second}"
    micros = part.u32() if length >= 12 else 0
    return f"{text}.{micros:06d}" if micros else text


def _string(cursor: Cursor, unsigned: bool) -> str:
    return cursor.lenenc_bytes().decode("utf-8", "replace")


_READERS: dict[int, Callable[[Cursor, bool], str]] = {
    FieldType.TINY: _integer(1),
    FieldType.SHORT: _integer(2),
    FieldType.YEAR: _integer(2),
    FieldType.LONG: _integer(4),
    FieldType.INT24: _integer(4),
    FieldType.LONGLONG: _integer(8),
    FieldType.FLOAT: _float,
    FieldType.DOUBLE: _double,
    FieldType.NULL: lambda cursor, unsigned: NULL_TEXT,
    FieldType.DATE: _datetime,
    FieldType.DATETIME: _datetime,
    FieldType.TIMESTAMP: _datetime,
    FieldType.TIME: _time,
}
_STRINGS = (FieldType.DECIMAL, FieldType.NEWDECIMAL, FieldType.VARCHAR, FieldType.BIT, FieldType.JSON,
            FieldType.ENUM, FieldType.SET, FieldType.TINY_BLOB, FieldType.MEDIUM_BLOB, FieldType.LONG_BLOB,
            FieldType.BLOB, FieldType.VAR_STRING, FieldType.STRING, FieldType.GEOMETRY, FieldType.NEWDATE)
_READERS.update({int(t): _string for t in _STRINGS})


def binary_value(cursor: Cursor, field_type: int, unsigned: bool) -> str:
    """Read one binary-protocol value of `field_type`; ProtocolError for a type it cannot size."""
    reader = _READERS.get(field_type)
    if reader is None:
        raise ProtocolError(f"binary value of unknown type 0x{field_type:02x}")
    return reader(cursor, unsigned)
