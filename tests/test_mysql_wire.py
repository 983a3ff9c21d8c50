"""MySQL wire bytes built from meaning (per the client/server protocol documentation), a harness that
runs them through the module's framers and correlator, and checks of the builders against tshark.

Other tests import the builders: `from test_mysql_wire import query, ok, result_set, ...`.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.mysql import MODULE
from packetshipper.modules.mysql.wire import Capability, Command, FieldType
from packetshipper.pcapgen import tcp_frame, write_pcap
from packetshipper.protocol import (
    COMMON_SETTINGS,
    Connection,
    Direction,
    Endpoint,
    ProtocolError,
    Transaction,
)
from packetshipper.settings import validate

MAX_PAYLOAD = 0xFFFFFF
CLASSIC = (Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH
           | Capability.CONNECT_WITH_DB | Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA | Capability.CLIENT_MYSQL)
DEPRECATE = CLASSIC | Capability.DEPRECATE_EOF


# --- framing -------------------------------------------------------------------------------------------
def packet(seq: int, payload: bytes) -> bytes:
    """One logical packet; payloads of 16 MiB and more are split into 0xFFFFFF-byte wire packets."""
    out = []
    while True:
        part, payload = payload[:MAX_PAYLOAD], payload[MAX_PAYLOAD:]
        out.append(len(part).to_bytes(3, "little") + bytes([seq & 0xFF]) + part)
        seq += 1
        if len(part) < MAX_PAYLOAD:
            return b"".join(out)


def lenenc_int(n: int) -> bytes:
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")


def lenenc_str(value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return lenenc_int(len(raw)) + raw


# --- client --------------------------------------------------------------------------------------------
def command(code: int, args: bytes = b"", seq: int = 0) -> bytes:
    return packet(seq, bytes([code]) + args)


def query(sql: str | bytes) -> bytes:
    return command(Command.QUERY, sql.encode() if isinstance(sql, str) else sql)


def login(user: str, database: str = "", capabilities: int = DEPRECATE, extended: int = 0,
          plugin: str = "mysql_native_password", auth: bytes = b"\x01" * 20) -> bytes:
    caps = capabilities | (Capability.CONNECT_WITH_DB if database else 0)
    body = struct.pack("<IIB", caps, 16 << 20, 45) + bytes(19) + extended.to_bytes(4, "little")
    body += user.encode() + b"\x00" + lenenc_str(auth)
    if database:
        body += database.encode() + b"\x00"
    return packet(1, body + plugin.encode() + b"\x00")


def ssl_request(capabilities: int = DEPRECATE) -> bytes:
    return packet(1, struct.pack("<IIB", capabilities | Capability.SSL, 16 << 20, 45) + bytes(23))


def prepare(sql: str) -> bytes:
    return command(Command.STMT_PREPARE, sql.encode())


def execute(statement_id: int, params: Sequence[tuple[int, bytes | None]] = (), bind: bool = True) -> bytes:
    """COM_STMT_EXECUTE with (type, encoded value or None for NULL) per parameter."""
    body = struct.pack("<IBI", statement_id, 0, 1)
    if params:
        bitmap = bytearray((len(params) + 7) // 8)
        for i, (_, value) in enumerate(params):
            if value is None:
                bitmap[i // 8] |= 1 << (i % 8)
        body += bytes(bitmap) + (b"\x01" if bind else b"\x00")
        if bind:
            body += b"".join(bytes([t, 0]) for t, _ in params)
        body += b"".join(v for _, v in params if v is not None)
    return command(Command.STMT_EXECUTE, body)


# --- server --------------------------------------------------------------------------------------------
def greeting(version: str = "10.11.6-MariaDB", capabilities: int = DEPRECATE, extended: int = 0,
             plugin: str = "mysql_native_password", connection_id: int = 7) -> bytes:
    body = b"\x0a" + version.encode() + b"\x00" + struct.pack("<I", connection_id) + b"abcdefgh\x00"
    body += struct.pack("<HBHH", capabilities & 0xFFFF, 45, 2, capabilities >> 16) + bytes([21])
    body += bytes(6) + extended.to_bytes(4, "little") + b"ijklmnopqrst\x00" + plugin.encode() + b"\x00"
    return packet(0, body)


def ok(seq: int = 1, affected: int = 0, insert_id: int = 0, status: int = 2, header: int = 0x00) -> bytes:
    return packet(seq, bytes([header]) + lenenc_int(affected) + lenenc_int(insert_id) + struct.pack("<HH", status, 0))


def err(seq: int, code: int, state: str, message: str) -> bytes:
    return packet(seq, b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + message.encode())


def eof(seq: int, status: int = 2) -> bytes:
    return packet(seq, b"\xfe" + struct.pack("<HH", 0, status))


def column(seq: int, name: str, table: str = "t", schema: str = "db", field_type: int = FieldType.VAR_STRING,
           unsigned: bool = False) -> bytes:
    body = b"".join(lenenc_str(s) for s in ("def", schema, table, table, name, name))
    body += b"\x0c" + struct.pack("<HIBHB", 45, 255, field_type, 0x20 if unsigned else 0, 0) + b"\x00\x00"
    return packet(seq, body)


def text_row(seq: int, values: Sequence[str | None]) -> bytes:
    return packet(seq, b"".join(b"\xfb" if v is None else lenenc_str(v) for v in values))


def result_set(columns: Sequence[str], rows: Sequence[Sequence[str | None]], deprecate_eof: bool,
               table: str = "t", schema: str = "db", status: int = 2, seq: int = 1) -> bytes:
    """A text result set from sequence id `seq` on, closed as the dialect closes it."""
    out = [packet(seq, lenenc_int(len(columns)))]
    seq += 1
    for name in columns:
        out.append(column(seq, name, table, schema))
        seq += 1
    if not deprecate_eof:
        out.append(eof(seq, status))
        seq += 1
    for row in rows:
        out.append(text_row(seq, row))
        seq += 1
    out.append(ok(seq, header=0xFE, status=status) if deprecate_eof else eof(seq, status))
    return b"".join(out)


def prepare_ok(statement_id: int, columns: Sequence[str], params: int, deprecate_eof: bool) -> bytes:
    out = [packet(1, b"\x00" + struct.pack("<IHHBH", statement_id, len(columns), params, 0, 0))]
    seq = 2
    for group in (["?"] * params, list(columns)):
        for name in group:
            out.append(column(seq, name))
            seq += 1
        if group and not deprecate_eof:
            out.append(eof(seq))
            seq += 1
    return b"".join(out)


# --- running bytes through the module ------------------------------------------------------------------
CONNECTION = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 3306), connection_id=1)


def module(**options: Any) -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "mysql", **options}))


_connection_ids = itertools.count(1)


def new_connection() -> Connection:
    """CONNECTION with a connection id of its own, as the core gives every connection."""
    return dataclasses.replace(CONNECTION, connection_id=next(_connection_ids))


class Session:
    """One connection driven as the core drives it: a framer per direction, one correlator."""

    def __init__(self, **options: Any) -> None:
        self.module = module(**options)
        self.connection = connection = new_connection()
        self.parsers = [self.module.stream_parser(d, connection) for d in Direction]
        self.correlator = self.module.correlator(connection)
        self.transactions: list[Transaction[Any, Any]] = []
        self.now = 1_000_000.0

    def _run(self, direction: Direction, messages: list[Any]) -> None:
        for message in messages:
            self.transactions.extend(self.correlator.on_message(direction, message, self.now))

    def send(self, from_client: bool, data: bytes, chunk: int = 0) -> Session:
        direction = Direction.REQUEST if from_client else Direction.RESPONSE
        self.now += 0.001
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
        for piece in pieces:
            try:
                self._run(direction, self.parsers[direction].receive_data(piece, self.now))
            except ProtocolError:
                self.parsers[direction] = self.module.stream_parser(direction, self.connection)
        return self

    def client(self, data: bytes, chunk: int = 0) -> Session:
        return self.send(True, data, chunk)

    def server(self, data: bytes, chunk: int = 0) -> Session:
        return self.send(False, data, chunk)

    def gap(self, from_client: bool, nbytes: int) -> Session:
        direction = Direction.REQUEST if from_client else Direction.RESPONSE
        self.correlator.note_gap(direction, nbytes, self.now)
        self._run(direction, self.parsers[direction].receive_gap(nbytes, self.now))
        return self

    def close(self) -> Session:
        for direction in Direction:
            self._run(direction, self.parsers[direction].receive_eof(self.now))
        self.transactions.extend(self.correlator.close(self.now))
        return self

    def events(self) -> list[dict[str, Any]]:
        out = []
        for txn in self.transactions:
            event = transaction_event("mysql", txn, self.module.event_fields(txn))
            problems = validate_event(event)
            assert not problems, problems
            out.append(event)
        return out


# --- the builders against an independent dissector -----------------------------------------------------
def _tshark(tmp_path: Path, client: bytes, server: bytes, fields: list[str],
            server_first: bool = False) -> list[list[str]]:
    pcap = tmp_path / "built.pcap"
    frames = [(1.0, tcp_frame("10.0.0.1", "10.0.0.2", 40000, 3306, client, seq=1, ack=1)),
              (1.1, tcp_frame("10.0.0.2", "10.0.0.1", 3306, 40000, server, seq=1, ack=1))]
    write_pcap(str(pcap), frames[::-1] if server_first else frames)
    cmd = ["tshark", "-r", str(pcap), "-Y", "mysql", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines()]


tshark_needed = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@tshark_needed
def test_tshark_reads_the_built_query_and_error(tmp_path: Path) -> None:
    rows = _tshark(tmp_path, query("SELECT 1"), err(1, 1064, "42000", "You have an error"),
                   ["mysql.command", "mysql.query", "mysql.error_code", "mysql.sqlstate", "mysql.error.message"])
    assert rows[0][:2] == ["3", "SELECT 1"]
    assert rows[1][2:] == ["1064", "42000", "You have an error"]


@tshark_needed
def test_tshark_reads_the_built_result_set(tmp_path: Path) -> None:
    server = result_set(["a", "b"], [["1", "x"], ["2", None]], deprecate_eof=False, table="items", schema="shop")
    rows = _tshark(tmp_path, query("SELECT a, b FROM items"), server,
                   ["mysql.num_fields", "mysql.field.name", "mysql.field.table", "mysql.field.db", "mysql.row.text"])
    assert rows[1][0] == "2"
    assert rows[1][1] == "a|b"
    assert rows[1][2] == "items|items"
    assert rows[1][3] == "shop|shop"
    assert rows[1][4].split("|")[:3] == ["1", "x", "2"]


@tshark_needed
def test_tshark_reads_the_built_handshake(tmp_path: Path) -> None:
    rows = _tshark(tmp_path, login("bob", "shop"), greeting("10.11.6-MariaDB"),
                   ["mysql.version", "mysql.user", "mysql.schema"], server_first=True)
    versions = [r[0] for r in rows if r[0]]
    users = [r[1] for r in rows if r[1]]
    assert versions == ["10.11.6-MariaDB"]
    assert users == ["bob"]
    assert [r[2] for r in rows if r[2]] == ["shop"]


def test_split_packets_carry_consecutive_sequence_ids() -> None:
    wire = packet(0, b"\x03" + b"x" * MAX_PAYLOAD)  # one byte over: two wire packets
    assert wire[:4] == b"\xff\xff\xff\x00"
    assert wire[4 + MAX_PAYLOAD:8 + MAX_PAYLOAD] == b"\x01\x00\x00\x01"
    assert len(wire) == MAX_PAYLOAD + 1 + 8
