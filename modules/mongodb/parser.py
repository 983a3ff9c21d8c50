"""Sans-IO parser for one direction of a MongoDB connection: frames wire messages by their length
prefix and decodes each opcode's body (OP_MSG sections, legacy OP_QUERY / OP_REPLY and the write
opcodes, OP_COMPRESSED). A message over `max_message_size` is skipped as it streams by and still
reported from its header, so its reply pairs with it; documents go through pymongo's `bson`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import Direction, ProtocolError, StreamParser
from packetshipper.records import record

from . import documents as docs
from .compression import COMPRESSORS, NotDecompressed, decompress
from .messages import MongoMessage
from .settings import MongoConfig
from .wire import HEADER, MAX_MESSAGE, MIN_MESSAGE, OPCODES, Cursor, Opcode

__all__ = ["MongoStreamParser", "PACKET_LOSS", "NOT_READ", "CUT_BY_CLOSE", "BULKY"]

log = logging.getLogger("packetshipper.mongodb")

Count = Callable[..., None]

PACKET_LOSS = "Packet loss while capturing the message: its body was not read"
NOT_READ = "Message over max_message_size: its body was not read"
CUT_BY_CLOSE = "Connection closed inside the message: its body was not read"

# What Packetbeat leaves out of `query` (the data, not the question); `request` shows everything.
BULKY = {"insert": "documents", "update": "updates", "findandmodify": "update", "findAndModify": "update"}

_MORE_TO_COME = 1 << 1
_CHECKSUM_PRESENT = 1 << 0
_QUERY_FAILURE = 1 << 1  # OP_REPLY responseFlags
_REPORTED_LIMIT = 256
_reported_opcodes: set[int] = set()  # unknown opcodes already logged (once each, as Packetbeat does)


@record
class _Frame:
    ts: float
    size: int
    request_id: int
    response_to: int
    opcode: int
    from_server: bool


class MongoStreamParser(StreamParser):
    def __init__(self, config: MongoConfig, direction: Direction, count: Count) -> None:
        self._config = config
        self._from_server = direction == Direction.RESPONSE
        self._count = count
        self._keep = config.max_docs if config.send_response else -1  # -1: keep none; 0: keep all
        self._buf = bytearray()
        self._head_ts = 0.0
        self._skip = 0

    # --- StreamParser -------------------------------------------------------------------------------
    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        out: list[Any] = []
        start = 0
        if self._skip:
            start = min(self._skip, len(data))
            self._skip -= start
            if start >= len(data):
                return out
        buf = self._buf
        boundary = len(buf)
        if not buf:
            self._head_ts = ts
        buf += memoryview(data)[start:]
        pos, end = 0, len(buf)
        limit = self._config.max_message_size
        while end - pos >= MIN_MESSAGE:
            when = self._head_ts if pos < boundary else ts
            length, request_id, response_to, opcode = HEADER.unpack_from(buf, pos)
            if length < MIN_MESSAGE or length > MAX_MESSAGE:
                raise ProtocolError(f"mongodb: message with impossible length {length}")
            if opcode not in OPCODES:
                self._unknown(opcode)
            frame = _Frame(when, length, request_id, response_to, opcode, self._from_server)
            if length > limit:
                self._count("oversized_messages")
                out.append(_header_only(frame, NOT_READ))
                if end - pos < length:
                    self._skip = length - (end - pos)
                    pos = end
                    break
                pos += length
                continue
            if end - pos < length:
                break
            out.append(self._decode(frame, Cursor(buf, pos + MIN_MESSAGE, pos + length)))
            pos += length
        if pos >= len(buf):
            buf.clear()
        elif pos:
            if pos >= boundary:
                self._head_ts = ts
            del buf[:pos]
        return out

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        if self._skip and nbytes <= self._skip:
            self._skip -= nbytes
            return []
        buf = self._buf
        if not self._skip and len(buf) >= MIN_MESSAGE:
            length, request_id, response_to, opcode = HEADER.unpack_from(buf, 0)
            missing = length - len(buf)
            if 0 < nbytes <= missing and opcode in OPCODES:
                # The lost bytes are inside this message: report it from its header, skip the rest.
                frame = _Frame(self._head_ts, length, request_id, response_to, opcode, self._from_server)
                buf.clear()
                self._skip = missing - nbytes
                self._count("messages_cut_by_gaps")
                return [_header_only(frame, PACKET_LOSS)]
        raise ProtocolError(f"mongodb: {nbytes} bytes lost between messages")

    def receive_eof(self, ts: float) -> list[Any]:
        """Closed inside a message: report it from its header (if that arrived) so it still pairs."""
        buf = self._buf
        if self._skip or len(buf) < MIN_MESSAGE:
            return []
        length, request_id, response_to, opcode = HEADER.unpack_from(buf, 0)
        buf.clear()
        if opcode not in OPCODES or not MIN_MESSAGE <= length <= MAX_MESSAGE:
            return []
        self._count("messages_cut_by_close")
        return [_header_only(_Frame(self._head_ts, length, request_id, response_to, opcode, self._from_server),
                             CUT_BY_CLOSE)]

    # --- decoding -----------------------------------------------------------------------------------
    def _unknown(self, opcode: int) -> None:
        self._count("unknown_opcodes")
        if opcode not in _reported_opcodes and len(_reported_opcodes) < _REPORTED_LIMIT:
            _reported_opcodes.add(opcode)
            log.warning("mongodb: Unknown operation code: %d; that direction resyncs at its next segment", opcode)
        raise ProtocolError(f"mongodb: unknown operation code {opcode}")

    def _decode(self, frame: _Frame, body: Cursor) -> MongoMessage:
        if frame.opcode == Opcode.OP_COMPRESSED:
            return self._compressed(frame, body)
        return _DECODERS[frame.opcode](self, frame, body)

    def _compressed(self, frame: _Frame, body: Cursor) -> MongoMessage:
        original = body.int32("OP_COMPRESSED originalOpcode")
        size = body.int32("OP_COMPRESSED uncompressedSize")
        compressor = body.byte("OP_COMPRESSED compressorId")
        if original not in OPCODES or original == Opcode.OP_COMPRESSED:
            raise ProtocolError(f"mongodb: OP_COMPRESSED of opcode {original}")
        inner = _Frame(frame.ts, frame.size, frame.request_id, frame.response_to, original, frame.from_server)
        if size < 0 or size > self._config.max_message_size:
            self._count("oversized_messages")
            return _header_only(inner, NOT_READ)
        try:
            data = decompress(compressor, body.rest(), size)
        except NotDecompressed as exc:
            self._count("compressed_not_decoded")
            name = COMPRESSORS.get(compressor, str(compressor))
            return _header_only(inner, f"Compressed with {name}: not decoded ({exc})")
        self._count("compressed_messages")
        return self._decode(inner, Cursor(data, 0, len(data)))

    def _document(self, raw: bytes) -> dict[str, Any] | None:
        try:
            return docs.decode(raw)
        except docs.Undecodable:
            self._count("documents_not_decoded")
            return None

    def _kept(self, raws: list[bytes], first: dict[str, Any] | None = None) -> tuple[Any, ...]:
        """The documents `response` will show: max_docs of them (all for 0), none without send_response."""
        if self._keep < 0:
            return ()
        wanted = raws if self._keep == 0 else raws[: self._keep]
        out: list[dict[str, Any] | None] = [first] if first is not None and wanted else []
        out += [self._document(raw) for raw in wanted[len(out):]]
        return tuple(d for d in out if d is not None)

    def _reply(self, frame: _Frame, body: Cursor) -> MongoMessage:
        flags = body.int32("OP_REPLY responseFlags")
        cursor_id = body.int64("OP_REPLY cursorID")
        starting_from = body.int32("OP_REPLY startingFrom")
        returned = body.int32("OP_REPLY numberReturned")
        raws: list[bytes] = []
        while body.remaining:
            raws.append(body.document("OP_REPLY document"))
        if returned != len(raws):
            raise ProtocolError(f"mongodb: OP_REPLY says {returned} documents, holds {len(raws)}")
        first = self._document(raws[0]) if raws else None
        error = _error_of(first)
        if error is None and flags & _QUERY_FAILURE:
            error = "query failure"
        fields = (("cursorId", cursor_id), ("startingFrom", starting_from), ("numberReturned", returned))
        return _message(frame, True, fields=fields, documents=self._kept(raws, first), num_documents=returned,
                        error=error)

    def _query(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_QUERY flags")
        collection = body.cstring("OP_QUERY fullCollectionName")
        skip = body.int32("OP_QUERY numberToSkip")
        limit = body.int32("OP_QUERY numberToReturn")
        query = self._document(body.document("OP_QUERY query")) or {}
        fields: list[tuple[str, Any]] = [("fullCollectionName", collection), ("numberToSkip", skip),
                                         ("numberToReturn", limit)]
        if body.remaining:
            selector = self._document(body.document("OP_QUERY returnFieldsSelector"))
            if selector is not None:
                fields.append(("returnFieldsSelector", docs.to_json(selector)))
        if collection.endswith(".$cmd"):
            command = query.get("$query", query) if isinstance(query.get("$query"), dict) else query
            method, resource, params = _command(command, collection[: -len(".$cmd")])
        else:
            method, resource, params = "find", collection, query
            fields.append(("query", docs.to_json(query)))
        return _message(frame, False, expects_reply=True, method=method, resource=resource,
                        params=self._trim(method, params), fields=tuple(fields))

    def _op_msg(self, frame: _Frame, body: Cursor) -> MongoMessage:
        flags = body.int32("OP_MSG flagBits")
        if flags & _CHECKSUM_PRESENT:
            body.end -= 4
            if body.end < body.pos:
                raise ProtocolError("mongodb: OP_MSG too short for its checksum")
        more = bool(flags & _MORE_TO_COME)
        command: dict[str, Any] | None = None
        sequences: dict[str, list[bytes]] = {}
        saw_body = False
        while body.remaining:
            kind = body.byte("OP_MSG section kind")
            if kind == 0:
                if saw_body:
                    raise ProtocolError("mongodb: OP_MSG with two body sections")
                saw_body = True
                command = self._document(body.document("OP_MSG body"))
            elif kind == 1:
                size = body.int32("OP_MSG document sequence size")
                if size < 5 or size - 4 > body.remaining:
                    raise ProtocolError(f"mongodb: OP_MSG document sequence of size {size}")
                section = Cursor(body.data, body.pos, body.pos + size - 4)
                body.pos += size - 4
                name = section.cstring("OP_MSG sequence identifier")
                while section.remaining:
                    sequences.setdefault(name, []).append(section.document("OP_MSG sequence document"))
            else:
                raise ProtocolError(f"mongodb: OP_MSG section of kind {kind}")
        if not saw_body:
            raise ProtocolError("mongodb: OP_MSG without a body section")
        if frame.from_server:
            return self._msg_reply(frame, command, more)
        database = str(command.get("$db", "")) if command else ""
        method, resource, params = _command(command or {}, database)
        params.pop("$db", None)
        count = sum(len(raws) for raws in sequences.values())
        if self._config.send_request:
            for name, raws in sequences.items():  # kind 1 documents (insert's `documents`, update's `updates`)
                kept = raws if self._config.max_docs == 0 else raws[: self._config.max_docs]
                params[name] = [d for d in (self._document(raw) for raw in kept) if d is not None]
        return _message(frame, False, expects_reply=not more, more_to_come=more, method=method,
                        resource=resource, params=self._trim(method, params), num_documents=count)

    def _msg_reply(self, frame: _Frame, reply: dict[str, Any] | None, more: bool) -> MongoMessage:
        fields: list[tuple[str, Any]] = []
        batch: list[Any] = [reply] if reply is not None else []
        cursor = reply.get("cursor") if reply is not None else None
        if isinstance(cursor, dict):
            found = cursor.get("firstBatch", cursor.get("nextBatch"))
            if isinstance(found, list):
                batch = found
                fields.append(("numberReturned", len(found)))
            if isinstance(cursor.get("id"), int):
                fields.append(("cursorId", int(cursor["id"])))
        kept: tuple[Any, ...] = ()
        if self._keep >= 0:
            kept = tuple(batch if self._keep == 0 else batch[: self._keep])
        return _message(frame, True, fields=tuple(fields), documents=kept, num_documents=len(batch),
                        error=_error_of(reply), more_to_come=more)

    def _trim(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """What a pending request keeps of its parameters: all for `request`, else only what `query` shows."""
        if self._config.send_request:
            return params
        bulky = BULKY.get(method)
        if bulky is None:
            return None
        params.pop(bulky, None)
        return params

    def _get_more(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_GET_MORE ZERO")
        collection = body.cstring("OP_GET_MORE fullCollectionName")
        limit = body.int32("OP_GET_MORE numberToReturn")
        cursor_id = body.int64("OP_GET_MORE cursorID")
        return _message(frame, False, expects_reply=True, method="getMore", resource=collection,
                        fields=(("fullCollectionName", collection), ("numberToReturn", limit),
                                ("cursorId", cursor_id)))

    def _insert(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_INSERT flags")
        collection = body.cstring("OP_INSERT fullCollectionName")
        count = 0
        while body.remaining:
            body.document("OP_INSERT document")
            count += 1
        return _message(frame, False, method="insert", resource=collection, num_documents=count,
                        fields=(("fullCollectionName", collection),))

    def _update(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_UPDATE ZERO")
        collection = body.cstring("OP_UPDATE fullCollectionName")
        body.int32("OP_UPDATE flags")
        selector = self._document(body.document("OP_UPDATE selector"))
        update = self._document(body.document("OP_UPDATE update"))
        fields: list[tuple[str, Any]] = [("fullCollectionName", collection)]
        if selector is not None:
            fields.append(("selector", docs.to_json(selector)))
        if update is not None:
            fields.append(("update", docs.to_json(update)))
        return _message(frame, False, method="update", resource=collection, fields=tuple(fields))

    def _delete(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_DELETE ZERO")
        collection = body.cstring("OP_DELETE fullCollectionName")
        body.int32("OP_DELETE flags")
        selector = self._document(body.document("OP_DELETE selector"))
        fields: list[tuple[str, Any]] = [("fullCollectionName", collection)]
        if selector is not None:
            fields.append(("selector", docs.to_json(selector)))
        return _message(frame, False, method="delete", resource=collection, fields=tuple(fields))

    def _kill_cursors(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.int32("OP_KILL_CURSORS ZERO")
        count = body.int32("OP_KILL_CURSORS numberOfCursorIDs")
        if count < 0 or count * 8 != body.remaining:
            raise ProtocolError(f"mongodb: OP_KILL_CURSORS with {count} cursors in {body.remaining} bytes")
        return _message(frame, False, method="killCursors")

    def _legacy_msg(self, frame: _Frame, body: Cursor) -> MongoMessage:
        body.cstring("OP_MSG (legacy) message")
        return _message(frame, False, method="msg")


_DECODERS: dict[int, Callable[[MongoStreamParser, _Frame, Cursor], MongoMessage]] = {
    Opcode.OP_REPLY: MongoStreamParser._reply,
    Opcode.OP_QUERY: MongoStreamParser._query,
    Opcode.OP_MSG: MongoStreamParser._op_msg,
    Opcode.OP_GET_MORE: MongoStreamParser._get_more,
    Opcode.OP_INSERT: MongoStreamParser._insert,
    Opcode.OP_UPDATE: MongoStreamParser._update,
    Opcode.OP_DELETE: MongoStreamParser._delete,
    Opcode.OP_KILL_CURSORS: MongoStreamParser._kill_cursors,
    Opcode.OP_RESERVED: MongoStreamParser._legacy_msg,
}


def _message(frame: _Frame, is_response: bool, **values: Any) -> MongoMessage:
    return MongoMessage(frame.ts, frame.size, frame.request_id, frame.response_to, frame.opcode, is_response,
                        **values)


def _header_only(frame: _Frame, note: str) -> MongoMessage:
    """A message known only from its header: enough to pair it, with a note saying why."""
    is_response = frame.opcode == Opcode.OP_REPLY or (frame.opcode == Opcode.OP_MSG and frame.from_server)
    expects = frame.opcode in (Opcode.OP_QUERY, Opcode.OP_GET_MORE) or (
        frame.opcode == Opcode.OP_MSG and not frame.from_server)
    name = Opcode(frame.opcode).name if frame.opcode in OPCODES else str(frame.opcode)
    return _message(frame, is_response, expects_reply=expects, method="" if is_response else name,
                    notes=(note,))


def _command(command: dict[str, Any], database: str) -> tuple[str, str, dict[str, Any]]:
    """Method (the command name: the document's first key), resource and the remaining parameters."""
    params = dict(command)
    if not params:
        return "otherCommand", f"{database}.$cmd" if database else "", params
    name = next(iter(params))
    value = params.pop(name)
    if name == "getMore":  # its value is the cursor id; the collection is named beside it
        value = params.get("collection")
    if isinstance(value, str) and value:
        return name, f"{database}.{value}" if database else value, params
    return name, f"{database}.$cmd" if database else "$cmd", params


def _error_of(reply: dict[str, Any] | None) -> str | None:
    """The server's error in a reply document: $err, writeErrors / writeConcernError, or ok: 0's errmsg."""
    if not reply:
        return None
    if "$err" in reply:
        return str(reply["$err"])
    for key in ("writeErrors", "writeConcernError"):
        if reply.get(key):
            return docs.to_json(reply[key])
    ok = reply.get("ok")
    if isinstance(ok, int | float) and not isinstance(ok, bool) and ok == 0:
        return str(reply.get("errmsg") or reply.get("codeName") or "ok: 0")
    return None
