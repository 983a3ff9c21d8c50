"""Sans-IO parsers for the two directions of a PostgreSQL connection (protocol 3.0).

Both read length-prefixed messages out of a bounded buffer. A message over `max_message_size`, or one
whose content no event uses (CopyData, DataRows past `max_rows`, ParameterStatus, ...), is skipped as
it streams by, without being buffered. The SSLRequest / GSSENCRequest negotiation is shared by the two
parsers of a connection: the server's one-byte answer has no header, and once it says yes ('S', 'G')
the rest of the connection is encrypted and neither parser reads it any more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.protocol import ProtocolError, StreamParser

from .messages import (
    PACKET_LOSS_REQUEST,
    PACKET_LOSS_RESPONSE,
    RESULT_CUT,
    Back,
    BackendMessage,
    Front,
    FrontendMessage,
    ServerError,
)
from .settings import PgsqlConfig
from .wire import (
    BACKEND_TYPES,
    CANCEL_REQUEST_CODE,
    FRONTEND_TYPES,
    GSSENC_REQUEST_CODE,
    HEADER,
    SSL_REQUEST_CODE,
    UNTYPED_HEADER,
    Cursor,
    decode_text,
)

__all__ = ["Negotiation", "FrontendParser", "BackendParser"]

Count = Callable[..., None]

MAX_LENGTH = 0x3FFFFFFF  # PostgreSQL's MaxAllocSize: no message is longer
MAX_STARTUP_LENGTH = 10000  # the server refuses longer startup packets
READY_PATTERN = b"Z\x00\x00\x00\x05"  # ReadyForQuery: where a lost backend stream can pick up again

# Messages that have one fixed length (the length field's value).
_FRONTEND_FIXED = {ord("S"): 4, ord("H"): 4, ord("X"): 4, ord("c"): 4}
_BACKEND_FIXED = {ord(t): 4 for t in "123nIsc"} | {ord("Z"): 5, ord("K"): 12}


class Negotiation:
    """What both parsers of one connection know about its SSL / GSSAPI encryption request."""

    __slots__ = ("requested", "encrypted", "__weakref__")

    def __init__(self) -> None:
        self.requested = False  # an SSLRequest or GSSENCRequest awaits its one-byte answer
        self.encrypted = False  # the server said yes: nothing more on this connection is readable


class _Stream(StreamParser):
    """Message framing shared by both directions; subclasses say what each message type means."""

    _TYPES: frozenset[int] = frozenset()
    _FIXED: dict[int, int] = {}

    def __init__(self, config: PgsqlConfig, negotiation: Negotiation, count: Count) -> None:
        self._config = config
        self._max = config.max_message_size
        self._negotiation = negotiation
        self._count = count
        self._buf = bytearray()
        self._head_ts = 0.0  # when the first buffered byte arrived
        self._skip = 0  # bytes of the current (skipped) message still to come
        self._resync = False  # lost our place: look for a message boundary before parsing on

    # --- StreamParser -------------------------------------------------------------------------------
    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if self._negotiation.encrypted:
            return []
        out: list[Any] = []
        start = 0
        if self._skip:
            start = min(self._skip, len(data))
            self._skip -= start
        if self._resync:
            start = self._find_boundary(data, start)
            if start < 0:
                return out
            self._resync = False
        if start >= len(data):
            return out
        buf = self._buf
        if buf:
            boundary = len(buf)
            buf += memoryview(data)[start:]
        else:
            boundary = 0
            self._head_ts = ts
            buf += memoryview(data)[start:]
        pos = self._parse(buf, boundary, ts, out)
        if pos:
            if pos >= len(buf):
                buf.clear()
            else:
                if pos >= boundary:
                    self._head_ts = ts
                del buf[:pos]
        return out

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        if self._negotiation.encrypted:
            return []
        if self._skip:
            if nbytes <= self._skip:
                self._skip -= nbytes
                self._lost()
                return []
        elif len(self._buf) >= 5 and self._buf[0]:
            kind = self._buf[0]
            total = 1 + HEADER.unpack_from(self._buf, 0)[1]
            missing = total - len(self._buf)
            if nbytes <= missing and self._absorbs_gap(kind):
                self._skipping(kind, total, self._head_ts, [])
                self._buf.clear()
                self._skip = missing - nbytes
                self._lost()
                return []
        out = self._flush_lost(ts)
        self._buf.clear()
        self._skip = 0
        self._resync = True
        self._count("gaps_resynced")
        return out

    # --- framing --------------------------------------------------------------------------------------
    def _parse(self, buf: bytearray, boundary: int, ts: float, out: list[Any]) -> int:
        """Parse whole messages from `buf`; return how many bytes were consumed."""
        pos = 0
        end = len(buf)
        types, fixed, limit = self._TYPES, self._FIXED, self._max
        while pos < end:
            when = self._head_ts if pos < boundary else ts
            special = self._special(buf, pos, when, out)
            if special:
                if special < 0:  # needs more bytes
                    break
                pos += special
                if self._negotiation.encrypted:
                    return end
                continue
            if end - pos < 5:
                break
            kind, length = HEADER.unpack_from(buf, pos)
            kind = kind[0]
            if kind not in types:
                raise ProtocolError(f"pgsql: unknown message type {bytes([kind])!r}")
            if length < 4 or length > MAX_LENGTH or fixed.get(kind, length) != length:
                raise ProtocolError(f"pgsql: message {chr(kind)!r} with impossible length {length}")
            total = length + 1
            if total > limit or not self._needs_body(kind):
                if total > limit:
                    self._oversized(kind, total, when, out)
                self._skipping(kind, total, when, out)
                if end - pos < total:
                    self._skip = total - (end - pos)
                    return end
                pos += total
                continue
            if end - pos < total:
                break
            self._message(kind, Cursor(buf, pos + 5, pos + total), total, when, out)
            pos += total
        return pos

    def _find_boundary(self, data: bytes, start: int) -> int:
        """After a gap: where in `data` parsing may start again (-1: not in this segment)."""
        return start

    # --- per direction ------------------------------------------------------------------------------
    def _special(self, buf: bytearray, pos: int, ts: float, out: list[Any]) -> int:
        """A message without the usual header at `pos`: bytes it took, 0 if none, -1 if incomplete."""
        return 0

    def _needs_body(self, kind: int) -> bool:
        return True

    def _oversized(self, kind: int, total: int, ts: float, out: list[Any]) -> None:
        self._count("oversized_messages")

    def _skipping(self, kind: int, total: int, ts: float, out: list[Any]) -> None:
        """A message of `total` bytes goes by unread (not needed, over the limit, or cut by a gap)."""

    def _absorbs_gap(self, kind: int) -> bool:
        return False

    def _lost(self) -> None:
        """Bytes inside the current message were lost (and skipped)."""

    def _flush_lost(self, ts: float) -> list[Any]:
        return []

    def _message(self, kind: int, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        raise NotImplementedError


class FrontendParser(_Stream):
    """Client to server: startup, queries, the extended query protocol, COPY data."""

    _TYPES = frozenset(FRONTEND_TYPES)
    _FIXED = _FRONTEND_FIXED

    def __init__(self, config: PgsqlConfig, negotiation: Negotiation, count: Count) -> None:
        super().__init__(config, negotiation, count)
        self._copy_bytes = 0  # CopyData bytes since the copy began
        self._copy_ts: float | None = None
        self._copy_notes: tuple[str, ...] = ()

    def _special(self, buf: bytearray, pos: int, ts: float, out: list[Any]) -> int:
        if buf[pos]:  # typed messages start with their type byte, never NUL
            return 0
        if len(buf) - pos < 8:
            return -1
        length, code = UNTYPED_HEADER.unpack_from(buf, pos)
        if length < 8 or length > MAX_STARTUP_LENGTH:
            raise ProtocolError(f"pgsql: startup packet with impossible length {length}")
        if len(buf) - pos < length:
            return -1
        if code in (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE):
            if length != 8:
                raise ProtocolError("pgsql: SSLRequest / GSSENCRequest of the wrong length")
            self._negotiation.requested = True
            kind = Front.SSL_REQUEST if code == SSL_REQUEST_CODE else Front.GSSENC_REQUEST
            out.append(FrontendMessage(kind, ts, length))
        elif code == CANCEL_REQUEST_CODE:
            out.append(FrontendMessage(Front.CANCEL, ts, length))
        elif code >> 16 == 3:
            out.append(FrontendMessage(Front.STARTUP, ts, length, params=_startup_params(buf, pos + 8, pos + length)))
        else:
            raise ProtocolError(f"pgsql: unknown startup code {code}")
        return int(length)

    def _needs_body(self, kind: int) -> bool:
        return kind not in _FRONTEND_UNREAD

    def _oversized(self, kind: int, total: int, ts: float, out: list[Any]) -> None:
        self._count("oversized_messages")
        if kind in (_Q, _P):  # still a statement: say so, without its text
            what = Front.QUERY if kind == _Q else Front.PARSE
            out.append(FrontendMessage(what, ts, total, sql=None))

    def _skipping(self, kind: int, total: int, ts: float, out: list[Any]) -> None:
        if kind == _COPY_DATA:
            if self._copy_ts is None:
                self._copy_ts = ts
            self._copy_bytes += total
        elif kind == _PASSWORD:
            out.append(FrontendMessage(Front.PASSWORD, ts, total))
        elif kind == _FUNCTION_CALL:
            out.append(FrontendMessage(Front.FUNCTION_CALL, ts, total))

    def _absorbs_gap(self, kind: int) -> bool:
        return kind == _COPY_DATA

    def _lost(self) -> None:
        self._copy_notes = (PACKET_LOSS_REQUEST,)

    def _message(self, kind: int, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        read = _FRONTEND_READERS.get(kind)
        if read is not None:
            what, fields = read(body)
            out.append(FrontendMessage(what, ts, total, **fields))
        else:  # CopyDone, CopyFail: the end of the client's COPY data
            first = self._copy_ts if self._copy_ts is not None else ts
            out.append(FrontendMessage(Front.COPY_END, first, self._copy_bytes + total, failed=kind == _COPY_FAIL,
                                       notes=self._copy_notes))
            self._copy_bytes, self._copy_ts, self._copy_notes = 0, None, ()


def _query(body: Cursor) -> tuple[Front, dict[str, Any]]:
    return Front.QUERY, {"sql": body.cstring("Query")}


def _parse_message(body: Cursor) -> tuple[Front, dict[str, Any]]:
    name = body.cstring("Parse statement name")
    return Front.PARSE, {"name": name, "sql": body.cstring("Parse query")}


def _bind(body: Cursor) -> tuple[Front, dict[str, Any]]:
    portal = body.cstring("Bind portal")
    return Front.BIND, {"portal": portal, "name": body.cstring("Bind statement")}


def _execute(body: Cursor) -> tuple[Front, dict[str, Any]]:
    return Front.EXECUTE, {"name": body.cstring("Execute portal")}


def _object(kind: Front) -> Callable[[Cursor], tuple[Front, dict[str, Any]]]:
    def read(body: Cursor) -> tuple[Front, dict[str, Any]]:
        what = chr(body.byte("Describe/Close kind"))
        return kind, {"name": f"{what}:{body.cstring('Describe/Close name')}"}
    return read


def _bare(kind: Front) -> Callable[[Cursor], tuple[Front, dict[str, Any]]]:
    return lambda body: (kind, {})


class BackendParser(_Stream):
    """Server to client: authentication, results, errors and notices, the SSL answer."""

    _TYPES = frozenset(BACKEND_TYPES)
    _FIXED = _BACKEND_FIXED

    def __init__(self, config: PgsqlConfig, negotiation: Negotiation, count: Count) -> None:
        super().__init__(config, negotiation, count)
        # Rows are kept only to render `response`: without send_response they are counted, not read.
        self._max_rows = config.max_rows if config.send_response else 0
        self._max_row_length = config.max_row_length
        self._columns: tuple[str, ...] = ()
        self._formats: tuple[int, ...] = ()
        self._described = False  # a RowDescription opened the result being gathered
        self._result_ts: float | None = None  # first byte of the result being gathered
        self._result_size = 0
        self._rows: list[tuple[str, ...]] = []
        self._num_rows = 0
        self._notes: tuple[str, ...] = ()

    def _special(self, buf: bytearray, pos: int, ts: float, out: list[Any]) -> int:
        negotiation = self._negotiation
        if not negotiation.requested:
            return 0
        answer = buf[pos]
        if answer not in b"SNG":
            negotiation.requested = False  # an old server's ErrorResponse: read it normally
            return 0
        negotiation.requested = False
        negotiation.encrypted = answer != ord("N")
        if negotiation.encrypted:
            self._count("encrypted_connections")
        out.append(BackendMessage(Back.SSL_ANSWER, ts, 1, status=chr(answer)))
        return 1

    def _needs_body(self, kind: int) -> bool:
        if kind == _DATA_ROW:
            return len(self._rows) < self._max_rows
        return kind not in _BACKEND_UNREAD

    def _skipping(self, kind: int, total: int, ts: float, out: list[Any]) -> None:
        if kind in _RESULT_PARTS:
            self._grow(ts, total)
            if kind == _DATA_ROW:
                self._num_rows += 1

    def _absorbs_gap(self, kind: int) -> bool:
        return kind in _RESULT_PARTS

    def _lost(self) -> None:
        self._notes = (PACKET_LOSS_RESPONSE,)

    def _flush_lost(self, ts: float) -> list[Any]:
        if self._result_ts is None:
            return []
        self._notes = (PACKET_LOSS_RESPONSE,)
        return [self._complete(Back.RESULT, ts, 0)]

    def receive_eof(self, ts: float) -> list[Any]:
        """The server closed while a result was arriving: what came is published, marked as cut."""
        if self._result_ts is None or self._negotiation.encrypted:
            return []
        self._notes = (*self._notes, RESULT_CUT)
        self._count("results_cut_by_close")
        return [self._complete(Back.RESULT, ts, 0)]

    def _find_boundary(self, data: bytes, start: int) -> int:
        at = data.find(READY_PATTERN, start)
        while at >= 0:
            if at + 5 >= len(data) or data[at + 5] in b"ITE":
                return at
            at = data.find(READY_PATTERN, at + 1)
        return -1

    def _grow(self, ts: float, size: int) -> None:
        if self._result_ts is None:
            self._result_ts = ts
        self._result_size += size

    def _complete(self, kind: Back, ts: float, total: int, *, tag: str = "",
                  error: ServerError | None = None) -> BackendMessage:
        first = self._result_ts if self._result_ts is not None else ts
        described = self._described or self._num_rows > 0
        message = BackendMessage(kind, first, self._result_size + total, tag=tag,
                                 fields=self._columns if described else (), rows=tuple(self._rows),
                                 num_rows=self._num_rows, error=error, notes=self._notes)
        self._result_ts, self._result_size, self._described = None, 0, False
        self._rows, self._num_rows, self._notes = [], 0, ()
        return message

    def _message(self, kind: int, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        self._READERS[kind](self, body, total, ts, out)

    def _data_row(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        self._grow(ts, total)
        self._num_rows += 1
        self._rows.append(self._row(body))

    def _row_description(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        self._describe(body)
        self._result_ts, self._result_size, self._described = ts, total, True
        self._rows, self._num_rows = [], 0

    def _command_complete(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        out.append(self._complete(Back.RESULT, ts, total, tag=body.cstring("CommandComplete tag")))

    def _ready(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        out.append(BackendMessage(Back.READY, ts, total, status=chr(body.byte("ReadyForQuery status"))))

    def _error(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        out.append(self._complete(Back.ERROR, ts, total, error=_server_error(body)))

    def _notice(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        out.append(BackendMessage(Back.NOTICE, ts, total, error=_server_error(body)))

    def _auth(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        out.append(BackendMessage(Back.AUTH, ts, total, code=body.int32("Authentication code")))

    def _no_data(self, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
        self._columns, self._formats = (), ()

    @staticmethod
    def _ends(kind: Back) -> Callable[[BackendParser, Cursor, int, float, list[Any]], None]:
        def end(self: BackendParser, body: Cursor, total: int, ts: float, out: list[Any]) -> None:
            out.append(self._complete(kind, ts, total))
        return end

    _READERS: dict[int, Callable[[BackendParser, Cursor, int, float, list[Any]], None]] = {
        ord("D"): _data_row,
        ord("T"): _row_description,
        ord("C"): _command_complete,
        ord("Z"): _ready,
        ord("E"): _error,
        ord("N"): _notice,
        ord("R"): _auth,
        ord("n"): _no_data,
        ord("I"): _ends(Back.EMPTY_QUERY),
        ord("s"): _ends(Back.SUSPENDED),
        ord("V"): _ends(Back.FUNCTION_RESULT),
    }

    def _describe(self, body: Cursor) -> None:
        count = body.int16("RowDescription field count")
        if count < 0:
            raise ProtocolError("pgsql: RowDescription with a negative field count")
        names, formats = [], []
        for _ in range(count):
            names.append(body.cstring("RowDescription field name"))
            body.skip(16, "RowDescription field")  # table oid, column, type oid, size, modifier
            formats.append(body.int16("RowDescription format"))
        if body.remaining:
            raise ProtocolError("pgsql: RowDescription longer than its fields")
        self._columns, self._formats = tuple(names), tuple(formats)

    def _row(self, body: Cursor) -> tuple[str, ...]:
        """A DataRow as Packetbeat renders it: text values, binary ones empty, cut at max_row_length."""
        count = body.int16("DataRow column count")
        if count < 0:
            raise ProtocolError("pgsql: DataRow with a negative column count")
        formats, budget = self._formats, self._max_row_length
        data = body.data
        values: list[str] = []
        used = 0
        for i in range(count):
            length = body.int32("DataRow value length")
            start = body.pos
            if length > 0:
                body.skip(length, "DataRow value")
            elif length < -1:
                raise ProtocolError(f"pgsql: DataRow value with length {length}")
            if used >= budget:
                continue  # Packetbeat leaves out the columns past the row limit
            binary = i < len(formats) and formats[i] == 1
            take = 0 if binary or length <= 0 else min(length, budget - used)
            values.append(decode_text(data[start : start + take]) if take else "")
            used += take
        if body.remaining:
            raise ProtocolError("pgsql: DataRow longer than its columns")
        return tuple(values)


def _startup_params(buf: bytearray, start: int, end: int) -> tuple[tuple[str, str], ...]:
    cursor = Cursor(buf, start, end)
    params: list[tuple[str, str]] = []
    while cursor.remaining:
        key = cursor.cstring("startup parameter name")
        if not key:
            break
        params.append((key, cursor.cstring("startup parameter value")))
    return tuple(params)


def _server_error(body: Cursor) -> ServerError:
    fields: dict[int, str] = {}
    while True:
        code = body.byte("error field type")
        if code == 0:
            break
        fields[code] = body.cstring("error field")
    # 'V' is the severity never localized (9.6+); 'S' may be translated.
    severity = fields.get(ord("V")) or fields.get(ord("S"), "")
    return ServerError(severity, fields.get(ord("C"), ""), fields.get(ord("M"), ""))


# Type bytes, named.
_Q, _P, _B, _EXECUTE, _DESCRIBE, _CLOSE = (ord(c) for c in "QPBEDC")
_SYNC, _FLUSH, _TERMINATE, _PASSWORD, _FUNCTION_CALL = (ord(c) for c in "SHXpF")
_COPY_DATA, _COPY_DONE, _COPY_FAIL = (ord(c) for c in "dcf")
_FRONTEND_UNREAD = frozenset({_COPY_DATA, _PASSWORD, _FUNCTION_CALL})
_FRONTEND_READERS: dict[int, Callable[[Cursor], tuple[Front, dict[str, Any]]]] = {
    _Q: _query,
    _P: _parse_message,
    _B: _bind,
    _EXECUTE: _execute,
    _DESCRIBE: _object(Front.DESCRIBE),
    _CLOSE: _object(Front.CLOSE),
    _SYNC: _bare(Front.SYNC),
    _FLUSH: _bare(Front.FLUSH),
    _TERMINATE: _bare(Front.TERMINATE),
}

_DATA_ROW, _COPY_OUT, _COPY_BOTH = (ord(c) for c in "DHW")
# Parts of a result that only add to its size (DataRow: when past max_rows or cut by a gap).
_RESULT_PARTS = frozenset({_DATA_ROW, _COPY_DATA, _COPY_DONE, _COPY_OUT, _COPY_BOTH})
# ParameterStatus, BackendKeyData, notifications, the extended protocol's acknowledgements,
# ParameterDescription, NegotiateProtocolVersion, CopyInResponse: framed, counted, not read.
_BACKEND_UNREAD = frozenset(b"SKA123tvG") | {_COPY_DATA, _COPY_DONE, _COPY_OUT, _COPY_BOTH}
