"""CQL native protocol frames built from the specification's notations (native_protocol_v4/v5.spec
section 3), speaking in meaning: a QUERY with this text, a RESULT with these rows."""

from __future__ import annotations

import struct

OP = {"ERROR": 0x00, "STARTUP": 0x01, "READY": 0x02, "AUTHENTICATE": 0x03, "OPTIONS": 0x05,
      "SUPPORTED": 0x06, "QUERY": 0x07, "RESULT": 0x08, "PREPARE": 0x09, "EXECUTE": 0x0A,
      "REGISTER": 0x0B, "EVENT": 0x0C, "BATCH": 0x0D, "AUTH_CHALLENGE": 0x0E, "AUTH_RESPONSE": 0x0F,
      "AUTH_SUCCESS": 0x10}
RESPONSES = {"ERROR", "READY", "AUTHENTICATE", "SUPPORTED", "RESULT", "EVENT", "AUTH_CHALLENGE",
             "AUTH_SUCCESS"}


def short(n: int) -> bytes:
    return struct.pack(">H", n)


def int_(n: int) -> bytes:
    return struct.pack(">i", n)


def string(s: str) -> bytes:
    raw = s.encode()
    return short(len(raw)) + raw


def long_string(s: str) -> bytes:
    raw = s.encode()
    return int_(len(raw)) + raw


def string_list(items: list[str]) -> bytes:
    return short(len(items)) + b"".join(string(i) for i in items)


def string_map(m: dict[str, str]) -> bytes:
    return short(len(m)) + b"".join(string(k) + string(v) for k, v in m.items())


def string_multimap(m: dict[str, list[str]]) -> bytes:
    return short(len(m)) + b"".join(string(k) + string_list(v) for k, v in m.items())


def bytes_(b: bytes | None) -> bytes:
    return int_(-1) if b is None else int_(len(b)) + b


def short_bytes(b: bytes) -> bytes:
    return short(len(b)) + b


def frame(op: str, body: bytes = b"", *, stream: int = 0, version: int = 4, flags: int = 0) -> bytes:
    first = version | (0x80 if op in RESPONSES else 0)
    if version >= 3:
        return struct.pack(">BBhBI", first, flags, stream, OP[op], len(body)) + body
    return struct.pack(">BBbBI", first, flags, stream, OP[op], len(body)) + body


def query_body(text: str, consistency: int = 1) -> bytes:
    return long_string(text) + short(consistency) + b"\x00"  # v4: [byte] flags


VARCHAR, INT, LIST, MAP, UDT = 0x000D, 0x0009, 0x0020, 0x0021, 0x0030


def rows_body(keyspace: str, table: str, columns: list[tuple[str, bytes]], rows: list[list[bytes]],
              *, paging_state: bytes | None = None) -> bytes:
    """RESULT Rows with a global table spec; `columns` are (name, type option bytes)."""
    flags = 0x01 | (0x02 if paging_state is not None else 0)
    out = int_(2) + int_(flags) + int_(len(columns))
    if paging_state is not None:
        out += bytes_(paging_state)
    out += string(keyspace) + string(table)
    for name, option in columns:
        out += string(name) + option
    out += int_(len(rows))
    for row in rows:
        out += b"".join(bytes_(cell) for cell in row)
    return out


def option(kind: int, *inner: bytes) -> bytes:
    return short(kind) + b"".join(inner)


def error_body(code: int, message: str, extra: bytes = b"") -> bytes:
    return int_(code) + string(message) + extra


def inet(ip4: bytes, port: int) -> bytes:
    return bytes([len(ip4)]) + ip4 + int_(port)
