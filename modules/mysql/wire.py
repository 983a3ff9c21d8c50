"""MySQL wire primitives: a bounded little-endian cursor, and the protocol's numbers by name."""

from __future__ import annotations

import enum
import struct

from packetshipper.protocol import ProtocolError

__all__ = ["Cursor", "Capability", "Command", "COMMAND_NAMES", "FieldType", "ServerStatus", "MAX_PACKET_PAYLOAD"]

# A payload of exactly this length continues in the next packet (the 16 MiB split).
MAX_PACKET_PAYLOAD = 0xFFFFFF

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I8 = struct.Struct("<b")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class Cursor:
    """Reads `data` front to back; running out of bytes is a ProtocolError, never an IndexError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _take(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise ProtocolError(f"need {n} bytes at offset {start}, have {len(self.data) - start}")
        self.pos = start + n
        return start

    def u8(self) -> int:
        return self.data[self._take(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self.data, self._take(2))[0])

    def u24(self) -> int:
        at = self._take(3)
        d = self.data
        return d[at] | d[at + 1] << 8 | d[at + 2] << 16

    def u32(self) -> int:
        return int(_U32.unpack_from(self.data, self._take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.data, self._take(8))[0])

    def signed(self, size: int) -> int:
        fmt = {1: _I8, 2: _I16, 4: _I32, 8: _I64}[size]
        return int(fmt.unpack_from(self.data, self._take(size))[0])

    def unsigned(self, size: int) -> int:
        return int.from_bytes(self.data[self._take(size):self.pos], "little")

    def f32(self) -> float:
        return float(_F32.unpack_from(self.data, self._take(4))[0])

    def f64(self) -> float:
        return float(_F64.unpack_from(self.data, self._take(8))[0])

    def lenenc_int(self) -> int:
        """Length-encoded integer: 1 byte below 0xFB, else 0xFC/0xFD/0xFE + 2/3/8 bytes."""
        first = self.u8()
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.u16()
        if first == 0xFD:
            return self.u24()
        if first == 0xFE:
            return self.u64()
        raise ProtocolError(f"0x{first:02x} is not a length-encoded integer")

    def lenenc_bytes(self) -> bytes:
        return self.fixed(self.lenenc_int())

    def fixed(self, n: int) -> bytes:
        start = self._take(n)
        return self.data[start:self.pos]

    def nul_bytes(self) -> bytes:
        """A NUL-terminated string, without its NUL."""
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolError("string without its NUL terminator")
        value = self.data[self.pos:end]
        self.pos = end + 1
        return value

    def rest(self) -> bytes:
        value = self.data[self.pos:]
        self.pos = len(self.data)
        return value


class Capability(enum.IntFlag):
    """Capability flags of the greeting and the handshake response (the ones this module reads)."""

    CLIENT_MYSQL = 1  # MariaDB servers clear it to say extended capabilities follow
    CONNECT_WITH_DB = 1 << 3
    COMPRESS = 1 << 5
    PROTOCOL_41 = 1 << 9
    SSL = 1 << 11
    SECURE_CONNECTION = 1 << 15
    PLUGIN_AUTH = 1 << 19
    CONNECT_ATTRS = 1 << 20
    PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
    DEPRECATE_EOF = 1 << 24
    QUERY_ATTRIBUTES = 1 << 27
    # MariaDB's extended capabilities, shifted down by 32 (they travel in a separate 4-byte field).
    MARIADB_CACHE_METADATA = 1 << 4


class ServerStatus(enum.IntFlag):
    MORE_RESULTS_EXISTS = 0x0008


class Command(enum.IntEnum):
    SLEEP = 0x00
    QUIT = 0x01
    INIT_DB = 0x02
    QUERY = 0x03
    FIELD_LIST = 0x04
    CREATE_DB = 0x05
    DROP_DB = 0x06
    REFRESH = 0x07
    SHUTDOWN = 0x08
    STATISTICS = 0x09
    PROCESS_INFO = 0x0A
    CONNECT = 0x0B
    PROCESS_KILL = 0x0C
    DEBUG = 0x0D
    PING = 0x0E
    TIME = 0x0F
    DELAYED_INSERT = 0x10
    CHANGE_USER = 0x11
    BINLOG_DUMP = 0x12
    TABLE_DUMP = 0x13
    CONNECT_OUT = 0x14
    REGISTER_SLAVE = 0x15
    STMT_PREPARE = 0x16
    STMT_EXECUTE = 0x17
    STMT_SEND_LONG_DATA = 0x18
    STMT_CLOSE = 0x19
    STMT_RESET = 0x1A
    SET_OPTION = 0x1B
    STMT_FETCH = 0x1C
    DAEMON = 0x1D
    BINLOG_DUMP_GTID = 0x1E
    RESET_CONNECTION = 0x1F
    # MariaDB
    STMT_BULK_EXECUTE = 0xFA


COMMAND_NAMES = {int(c): c.name for c in Command}


class FieldType(enum.IntEnum):
    DECIMAL = 0x00
    TINY = 0x01
    SHORT = 0x02
    LONG = 0x03
    FLOAT = 0x04
    DOUBLE = 0x05
    NULL = 0x06
    TIMESTAMP = 0x07
    LONGLONG = 0x08
    INT24 = 0x09
    DATE = 0x0A
    TIME = 0x0B
    DATETIME = 0x0C
    YEAR = 0x0D
    NEWDATE = 0x0E
    VARCHAR = 0x0F
    BIT = 0x10
    TIMESTAMP2 = 0x11
    DATETIME2 = 0x12
    TIME2 = 0x13
    JSON = 0xF5
    NEWDECIMAL = 0xF6
    ENUM = 0xF7
    SET = 0xF8
    TINY_BLOB = 0xF9
    MEDIUM_BLOB = 0xFA
    LONG_BLOB = 0xFB
    BLOB = 0xFC
    VAR_STRING = 0xFD
    STRING = 0xFE
    GEOMETRY = 0xFF
