"""Builds MongoDB wire messages from what they mean (the MongoDB Wire Protocol specification), for the
mongodb tests. Documents are encoded with pymongo's `bson`; framing is written here, byte by byte."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import bson
from packetshipper.protocol import StreamParser

OP_REPLY, OP_UPDATE, OP_INSERT, OP_QUERY, OP_GET_MORE, OP_DELETE, OP_KILL_CURSORS = 1, 2001, 2002, 2004, 2005, 2006, 2007
OP_COMPRESSED, OP_MSG = 2012, 2013
MORE_TO_COME, CHECKSUM_PRESENT = 2, 1


def doc(value: Mapping[str, Any]) -> bytes:
    return bytes(bson.encode(value))


def _cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def frame(opcode: int, body: bytes, request_id: int = 1, response_to: int = 0) -> bytes:
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, opcode) + body


def op_query(collection: str, query: Mapping[str, Any], *, skip: int = 0, limit: int = 0,
             fields: Mapping[str, Any] | None = None, request_id: int = 1, flags: int = 0) -> bytes:
    body = struct.pack("<i", flags) + _cstr(collection) + struct.pack("<ii", skip, limit) + doc(query)
    if fields is not None:
        body += doc(fields)
    return frame(OP_QUERY, body, request_id)


def op_reply(documents: Sequence[Mapping[str, Any]], *, response_to: int = 1, request_id: int = 100,
             cursor_id: int = 0, starting_from: int = 0, flags: int = 0) -> bytes:
    body = struct.pack("<iqii", flags, cursor_id, starting_from, len(documents)) + b"".join(doc(d) for d in documents)
    return frame(OP_REPLY, body, request_id, response_to)


def op_msg(body: Mapping[str, Any], *, sequences: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
           request_id: int = 1, response_to: int = 0, flags: int = 0) -> bytes:
    payload = struct.pack("<I", flags) + b"\x00" + doc(body)
    for name, documents in (sequences or {}).items():
        section = _cstr(name) + b"".join(doc(d) for d in documents)
        payload += b"\x01" + struct.pack("<i", 4 + len(section)) + section
    if flags & CHECKSUM_PRESENT:
        payload += b"\x00\x00\x00\x00"  # CRC-32C: not checked by a passive reader
    return frame(OP_MSG, payload, request_id, response_to)


def op_insert(collection: str, documents: Sequence[Mapping[str, Any]], request_id: int = 1) -> bytes:
    return frame(OP_INSERT, struct.pack("<i", 0) + _cstr(collection) + b"".join(doc(d) for d in documents),
                 request_id)


def op_update(collection: str, selector: Mapping[str, Any], update: Mapping[str, Any], request_id: int = 1) -> bytes:
    body = struct.pack("<i", 0) + _cstr(collection) + struct.pack("<i", 0) + doc(selector) + doc(update)
    return frame(OP_UPDATE, body, request_id)


def op_delete(collection: str, selector: Mapping[str, Any], request_id: int = 1) -> bytes:
    return frame(OP_DELETE, struct.pack("<i", 0) + _cstr(collection) + struct.pack("<i", 0) + doc(selector),
                 request_id)


def op_get_more(collection: str, cursor_id: int, limit: int = 0, request_id: int = 1) -> bytes:
    return frame(OP_GET_MORE, struct.pack("<i", 0) + _cstr(collection) + struct.pack("<iq", limit, cursor_id),
                 request_id)


def op_kill_cursors(cursor_ids: Sequence[int], request_id: int = 1) -> bytes:
    return frame(OP_KILL_CURSORS, struct.pack("<ii", 0, len(cursor_ids)) + b"".join(struct.pack("<q", c)
                                                                                      for c in cursor_ids), request_id)


def op_compressed(message: bytes, compressor: int = 2) -> bytes:
    """`message` (a whole wire message) wrapped in OP_COMPRESSED: zlib (2) or noop (0), ids kept."""
    length, request_id, response_to, opcode = struct.unpack_from("<iiii", message)
    inner = message[16:]
    data = zlib.compress(inner) if compressor == 2 else inner
    body = struct.pack("<iiB", opcode, len(inner), compressor) + data
    return frame(OP_COMPRESSED, body, request_id, response_to)


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
