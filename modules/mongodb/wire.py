"""MongoDB wire protocol: the standard message header, opcodes, and a bounded little-endian cursor."""

from __future__ import annotations

import enum
import struct

from packetshipper.protocol import ProtocolError

__all__ = ["HEADER", "Opcode", "Cursor", "MIN_MESSAGE", "MAX_MESSAGE"]

HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
MIN_MESSAGE = HEADER.size
MAX_MESSAGE = 64 << 20  # servers cap messages at 48 MB (maxMessageSizeBytes); anything longer is not MongoDB


class Opcode(enum.IntEnum):
    OP_REPLY = 1
    OP_UPDATE = 2001
    OP_INSERT = 2002
    OP_RESERVED = 2003
    OP_QUERY = 2004
    OP_GET_MORE = 2005
    OP_DELETE = 2006
    OP_KILL_CURSORS = 2007
    OP_COMPRESSED = 2012
    OP_MSG = 2013


OPCODES = frozenset(int(op) for op in Opcode)


class Cursor:
    """Reads little-endian fields, C strings and length-prefixed BSON documents from `data[pos:end]`."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        if n < 0 or n > self.end - self.pos:
            raise ProtocolError(f"mongodb: {what} needs {n} bytes, {self.end - self.pos} left")

    def byte(self, what: str) -> int:
        self._need(1, what)
        value = self.data[self.pos]
        self.pos += 1
        return int(value)

    def int32(self, what: str) -> int:
        self._need(4, what)
        (value,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def int64(self, what: str) -> int:
        self._need(8, what)
        (value,) = _I64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(value)

    def cstring(self, what: str) -> str:
        data = bytes(self.data[self.pos : self.end])
        stop = data.find(b"\x00")
        if stop < 0:
            raise ProtocolError(f"mongodb: {what} has no terminating NUL")
        self.pos += stop + 1
        return data[:stop].decode("utf-8", "replace")

    def document(self, what: str) -> bytes:
        """The raw bytes of the next BSON document (its int32 length says how many)."""
        self._need(5, what)
        (length,) = _I32.unpack_from(self.data, self.pos)
        if length < 5:
            raise ProtocolError(f"mongodb: {what} with impossible length {length}")
        self._need(length, what)
        start = self.pos
        self.pos += length
        return bytes(self.data[start : self.pos])

    def rest(self) -> bytes:
        start, self.pos = self.pos, self.end
        return bytes(self.data[start : self.end])
