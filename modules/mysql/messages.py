"""What the MySQL module passes along: wire packets from the framer, and the requests and responses the
correlator builds from them. Frozen and slotted."""

from __future__ import annotations

from dataclasses import dataclass, field

from packetshipper.records import record

__all__ = ["MysqlPacket", "StreamGap", "ConnectionState", "MysqlRequest", "MysqlResponse"]


@record
class MysqlPacket:
    """One logical packet: a payload of 16 MiB or more arrives as several wire packets, joined here."""

    ts: float  # when its first header byte arrived
    seq: int  # sequence id of its first wire packet
    last_seq: int  # sequence id of its last wire packet (differs only for split payloads)
    payload: bytes  # at most max_message_size bytes of it
    length: int  # the whole payload length
    wire_size: int  # bytes on the wire, headers included

    @property
    def truncated(self) -> bool:
        return len(self.payload) < self.length

    @property
    def first(self) -> int:
        """The payload's first byte (the command, or OK 0x00 / ERR 0xFF / EOF 0xFE), -1 when empty."""
        return self.payload[0] if self.payload else -1


@record
class StreamGap:
    """The framer lost `nbytes` here and starts afresh at the next segment."""

    ts: float
    nbytes: int


@dataclass(slots=True, weakref_slot=True)
class ConnectionState:
    """What one connection's two framers and its correlator share (the framers run before it sees a packet)."""

    opaque: bool = False  # TLS (an SSLRequest went by) or compression: the rest is not parsed
    resync_server: bool = False  # the server framer drops a packet it is inside of, at its next segment


@record
class MysqlRequest:
    ts: float
    command: int  # the command byte; -1 for the connection phase (login)
    command_name: str  # "QUERY", "STMT_EXECUTE", ..., "CONNECT" for the login
    method: str  # the SQL verb (SELECT), or the command's name (PING) where there is no SQL
    query: str
    size: int  # wire bytes
    raw: str = ""  # what send_request shows
    path: str = ""
    params: tuple[str, ...] = ()
    user: str = ""
    database: str = ""
    notes: tuple[str, ...] = ()


@record
class MysqlResponse:
    ts: float
    size: int  # wire bytes
    is_error: bool = False
    affected_rows: int = 0
    insert_id: int = 0
    num_rows: int = 0
    num_fields: int = 0
    error_code: int = 0
    error_message: str = ""
    tables: str = ""  # db.table of the result set's columns, comma separated (Packetbeat's path)
    rendered: str = ""  # header + kept rows as CSV, what send_response shows
    server_version: str = ""
    auth_plugin: str = ""
    notes: tuple[str, ...] = field(default=())
