"""Decoding single payloads: the greeting, the handshake response, OK, ERR and EOF packets."""

from __future__ import annotations

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .wire import Capability, Cursor

__all__ = ["Greeting", "Login", "OkPacket", "ErrPacket", "parse_greeting", "parse_login", "parse_ok",
           "parse_err", "eof_status", "is_eof", "is_greeting", "looks_like_login",
           "OK", "ERR", "EOF", "LOCAL_INFILE"]

OK, EOF, ERR, LOCAL_INFILE = 0x00, 0xFE, 0xFF, 0xFB
PROTOCOL_V10 = 0x0A
_FILLER = 23


@record
class Greeting:
    server_version: str
    connection_id: int
    capabilities: int
    extended_capabilities: int  # MariaDB's, 0 elsewhere
    auth_plugin: str


@record
class Login:
    capabilities: int
    extended_capabilities: int
    user: str
    database: str
    auth_plugin: str


@record
class OkPacket:
    affected_rows: int
    insert_id: int
    status: int


@record
class ErrPacket:
    code: int
    message: str  # "SQLSTATE: text", as Packetbeat writes it, or the text alone without a state


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def is_greeting(payload: bytes) -> bool:
    return len(payload) > 1 and payload[0] == PROTOCOL_V10 and b"\x00" in payload[1:64]


def parse_greeting(payload: bytes) -> Greeting:
    """Initial handshake, protocol version 10."""
    c = Cursor(payload)
    if c.u8() != PROTOCOL_V10:
        raise ProtocolError("not a protocol 10 greeting")
    version = _text(c.nul_bytes())
    connection_id = c.u32()
    c.fixed(8)  # auth plugin data, part 1
    c.u8()  # filler
    capabilities = c.u16()
    extended = 0
    plugin = ""
    if c.remaining:
        c.u8()  # character set
        c.u16()  # status flags
        capabilities |= c.u16() << 16
        auth_data_length = c.u8()
        reserved = c.fixed(10)
        if not capabilities & Capability.CLIENT_MYSQL:
            extended = int.from_bytes(reserved[6:10], "little")
        if capabilities & Capability.SECURE_CONNECTION:
            c.fixed(min(max(13, auth_data_length - 8), c.remaining))
        if capabilities & Capability.PLUGIN_AUTH and c.remaining:
            rest = c.rest()
            plugin = _text(rest.split(b"\x00", 1)[0])
    return Greeting(version, connection_id, capabilities, extended, plugin)


def looks_like_login(payload: bytes) -> bool:
    """A HandshakeResponse41 seen without its greeting: protocol-41 capabilities and the zero filler."""
    if len(payload) < 33:
        return False
    capabilities = int.from_bytes(payload[:4], "little")
    return bool(capabilities & Capability.PROTOCOL_41) and not any(payload[9:28])


def parse_login(payload: bytes) -> Login:
    """HandshakeResponse41: who logs in, to which database, with which plugin."""
    c = Cursor(payload)
    capabilities = c.u32()
    if not capabilities & Capability.PROTOCOL_41:
        raise ProtocolError("pre-4.1 handshake response")
    c.u32()  # max packet size
    c.u8()  # character set
    filler = c.fixed(_FILLER)
    extended = int.from_bytes(filler[19:23], "little")
    user = _text(c.nul_bytes())
    database = plugin = ""
    if capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA:
        c.lenenc_bytes()
    elif capabilities & Capability.SECURE_CONNECTION:
        c.fixed(c.u8())
    else:
        c.nul_bytes()
    if capabilities & Capability.CONNECT_WITH_DB and c.remaining:
        database = _text(c.nul_bytes())
    if capabilities & Capability.PLUGIN_AUTH and c.remaining:
        plugin = _text(c.nul_bytes())
    return Login(capabilities, extended, user, database, plugin)


def parse_ok(payload: bytes) -> OkPacket:
    """OK (0x00), or OK sent with the 0xFE header where CLIENT_DEPRECATE_EOF replaces EOF."""
    c = Cursor(payload, 1)
    affected = c.lenenc_int()
    insert_id = c.lenenc_int()
    status = c.u16() if c.remaining >= 2 else 0
    return OkPacket(affected, insert_id, status)


def parse_err(payload: bytes) -> ErrPacket:
    c = Cursor(payload, 1)
    code = c.u16()
    rest = c.rest()
    if rest[:1] == b"#" and len(rest) >= 6:
        return ErrPacket(code, f"{_text(rest[1:6])}: {_text(rest[6:])}")
    return ErrPacket(code, _text(rest))


def is_eof(payload: bytes, length: int) -> bool:
    """A terminator with the 0xFE header: a classic EOF or, with CLIENT_DEPRECATE_EOF, an OK.

    A row can start with 0xFE only as an 8-byte length prefix, which makes it at least 16 MiB long.
    """
    return length < 0xFFFFFF and payload[:1] == b"\xfe"


def eof_status(payload: bytes) -> int:
    """Server status flags of a terminator, 0 where there are none."""
    if len(payload) == 5:  # classic EOF: header, warnings, status
        return int.from_bytes(payload[3:5], "little")
    if len(payload) >= 7:
        try:
            return parse_ok(payload).status
        except ProtocolError:
            return 0
    return 0
