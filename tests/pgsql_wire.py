"""Builds PostgreSQL protocol 3.0 wire bytes from what a message means (PostgreSQL docs, "Message
Formats"), for the pgsql tests: expectations come from the meaning, not from the parser's output."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from packetshipper.protocol import StreamParser


def _msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


# --- frontend ------------------------------------------------------------------------------------
def startup(**params: str) -> bytes:
    body = struct.pack("!I", 196608) + b"".join(_cstr(k) + _cstr(v) for k, v in params.items()) + b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!II", 8, 80877103)


def cancel_request(pid: int = 1, key: int = 2) -> bytes:
    return struct.pack("!IIII", 16, 80877102, pid, key)


def password(secret: str) -> bytes:
    return _msg(b"p", _cstr(secret))


def query(sql: str) -> bytes:
    return _msg(b"Q", _cstr(sql))


def parse(sql: str, name: str = "", param_types: Sequence[int] = ()) -> bytes:
    return _msg(b"P", _cstr(name) + _cstr(sql) + struct.pack("!h", len(param_types))
                + b"".join(struct.pack("!I", t) for t in param_types))


def bind(params: Sequence[bytes | None] = (), statement: str = "", portal: str = "") -> bytes:
    body = _cstr(portal) + _cstr(statement) + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for value in params:
        body += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    return _msg(b"B", body + struct.pack("!h", 0))


def describe(kind: str = "P", name: str = "") -> bytes:
    return _msg(b"D", kind.encode() + _cstr(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return _msg(b"E", _cstr(portal) + struct.pack("!i", max_rows))


def close(kind: str = "S", name: str = "") -> bytes:
    return _msg(b"C", kind.encode() + _cstr(name))


def sync() -> bytes:
    return _msg(b"S")


def flush() -> bytes:
    return _msg(b"H")


def terminate() -> bytes:
    return _msg(b"X")


def copy_data(data: bytes) -> bytes:
    return _msg(b"d", data)


def copy_done() -> bytes:
    return _msg(b"c")


def copy_fail(why: str) -> bytes:
    return _msg(b"f", _cstr(why))


# --- backend -------------------------------------------------------------------------------------
def ssl_answer(accept: bool) -> bytes:
    return b"S" if accept else b"N"


def auth(code: int = 0, extra: bytes = b"") -> bytes:
    return _msg(b"R", struct.pack("!i", code) + extra)


def parameter_status(name: str, value: str) -> bytes:
    return _msg(b"S", _cstr(name) + _cstr(value))


def backend_key(pid: int = 1, key: int = 2) -> bytes:
    return _msg(b"K", struct.pack("!ii", pid, key))


def ready(status: str = "I") -> bytes:
    return _msg(b"Z", status.encode())


def row_description(*names: str, formats: Sequence[int] = ()) -> bytes:
    body = struct.pack("!h", len(names))
    for i, name in enumerate(names):
        fmt = formats[i] if i < len(formats) else 0
        body += _cstr(name) + struct.pack("!ihihih", 0, i + 1, 25, -1, -1, fmt)
    return _msg(b"T", body)


def data_row(*values: str | bytes | None) -> bytes:
    body = struct.pack("!h", len(values))
    for value in values:
        if value is None:
            body += struct.pack("!i", -1)
        else:
            raw = value.encode() if isinstance(value, str) else value
            body += struct.pack("!i", len(raw)) + raw
    return _msg(b"D", body)


def command_complete(tag: str) -> bytes:
    return _msg(b"C", _cstr(tag))


def empty_query() -> bytes:
    return _msg(b"I")


def portal_suspended() -> bytes:
    return _msg(b"s")


def parse_complete() -> bytes:
    return _msg(b"1")


def bind_complete() -> bytes:
    return _msg(b"2")


def no_data() -> bytes:
    return _msg(b"n")


def _fields(severity: str, code: str, message: str) -> bytes:
    return b"S" + _cstr(severity) + b"V" + _cstr(severity) + b"C" + _cstr(code) + b"M" + _cstr(message) + b"\x00"


def error(code: str, message: str, severity: str = "ERROR") -> bytes:
    return _msg(b"E", _fields(severity, code, message))


def notice(code: str, message: str, severity: str = "NOTICE") -> bytes:
    return _msg(b"N", _fields(severity, code, message))


def copy_in_response(columns: int = 1) -> bytes:
    return _msg(b"G", b"\x00" + struct.pack("!h", columns) + b"\x00\x00" * columns)


def copy_out_response(columns: int = 1) -> bytes:
    return _msg(b"H", b"\x00" + struct.pack("!h", columns) + b"\x00\x00" * columns)


def select_result(names: Sequence[str], rows: Sequence[Sequence[str | None]], tag: str | None = None) -> bytes:
    """RowDescription, the DataRows and CommandComplete (without the ReadyForQuery)."""
    return (row_description(*names) + b"".join(data_row(*row) for row in rows)
            + command_complete(tag or f"SELECT {len(rows)}"))


def login_ok() -> bytes:
    return (auth(0) + parameter_status("server_version", "15.5") + parameter_status("client_encoding", "UTF8")
            + backend_key() + ready())


# --- feeding -------------------------------------------------------------------------------------
def feed(parser: StreamParser, data: bytes, ts: float = 1.0) -> list[Any]:
    return parser.receive_data(data, ts)


def feed_bytewise(parser: StreamParser, data: bytes, ts: float = 1.0) -> list[Any]:
    out: list[Any] = []
    for i in range(len(data)):
        out += parser.receive_data(data[i : i + 1], ts)
    return out


def feed_split(parser: StreamParser, data: bytes, cuts: Sequence[int], ts: float = 1.0) -> list[Any]:
    out: list[Any] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        if cut > start:
            out += parser.receive_data(data[start:cut], ts)
            start = cut
    return out
