"""Reading one command's response, packet by packet, into a `MysqlResponse` with bounded memory.

What follows a command depends on the command: a result set (text rows after COM_QUERY, binary rows
after COM_STMT_EXECUTE), the statement description after COM_STMT_PREPARE, column definitions after
COM_FIELD_LIST, or a single packet. Whether EOF packets close the column definitions depends on
CLIENT_DEPRECATE_EOF; when the handshake was not captured the reader tells the two dialects apart by
the packets themselves (a classic EOF is 5 bytes, the OK that replaces it at least 7).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .messages import MysqlPacket, MysqlResponse
from .packets import ERR, LOCAL_INFILE, OK, eof_status, is_eof, parse_err, parse_ok
from .render import cut_row, render_csv
from .rows import Column, binary_values, read_column, text_values
from .wire import Cursor, ServerStatus

__all__ = ["Column", "Statement", "ResponseKind", "ResponseReader", "Dialect", "ReadOptions"]

MAX_COLUMNS_KEPT = 4096  # MySQL's own limit on a result's columns
MAX_TABLES_KEPT = 64
_CLASSIC_EOF_MAX = 6  # a classic EOF is 5 bytes (1 before 4.1); the OK replacing it is at least 7


@dataclass(slots=True)
class Statement:
    """A prepared statement: its text, parameter count, and what later executes need."""

    query: str
    num_params: int
    created: float
    param_types: tuple[tuple[int, bool], ...] = ()  # from the last execute that bound them
    columns: tuple[Column, ...] = ()  # for results sent without metadata (MariaDB's cache)


class Dialect(enum.Enum):
    UNKNOWN = "unknown"
    CLASSIC_EOF = "classic"
    DEPRECATE_EOF = "deprecate_eof"


class ResponseKind(enum.Enum):
    RESULT = "result"  # OK, ERR, LOCAL INFILE or a text result set
    BINARY_RESULT = "binary"  # OK, ERR or a binary result set
    PREPARE = "prepare"
    FIELD_LIST = "field_list"
    FETCH = "fetch"  # COM_STMT_FETCH: binary rows of an open cursor, no column count or definitions
    AUTH = "auth"  # COM_CHANGE_USER: packets until OK or ERR
    SINGLE = "single"  # one packet, whatever it is


class _State(enum.Enum):
    FIRST = 1
    COLUMNS = 2
    COLUMNS_EOF = 3
    ROWS = 4
    INFILE = 5
    PARAMS = 6
    PARAMS_EOF = 7
    PREPARED_COLUMNS = 8
    PREPARED_COLUMNS_EOF = 9
    FIELDS = 10
    AUTH = 11
    DONE = 12


@record
class ReadOptions:
    max_rows: int  # rows kept for `response`; 0 when send_response is off (rows are only counted)
    max_row_length: int
    cache_metadata: bool  # MariaDB: a column count is followed by a "metadata follows" byte


@dataclass(slots=True)
class _Result:
    columns: list[Column] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


class ResponseReader:
    """Feeds on one command's server packets; `feed` says when the response is complete."""

    def __init__(self, kind: ResponseKind, options: ReadOptions, dialect: Dialect,
                 statement: Statement | None = None, count: Callable[[str], None] | None = None) -> None:
        self.kind = kind
        self.options = options
        self.dialect = dialect  # may be learned while reading; the correlator keeps what was learned
        self.statement = statement
        self._count = count or (lambda name: None)
        self.state = _State.FIRST
        self.ts: float | None = None
        self.size = 0
        self.is_error = False
        self.affected_rows = 0
        self.insert_id = 0
        self.num_rows = 0
        self.num_fields = 0
        self.error_code = 0
        self.error_message = ""
        self._expected_columns = 0
        self._result = _Result()
        self._first_result: _Result | None = None
        self.prepared: tuple[int, int, int] | None = None  # statement id, columns, params
        self.notes: list[str] = []
        if kind is ResponseKind.FETCH:
            self.state = _State.ROWS
            self.kind = ResponseKind.BINARY_RESULT
            self._result.columns = list(statement.columns) if statement is not None else []
            self._result.names = [col.name for col in self._result.columns]

    @property
    def started(self) -> bool:
        return self.ts is not None

    @property
    def in_result(self) -> bool:
        """Inside column definitions or rows: enough was read to publish if the rest is lost."""
        return self.state in (_State.COLUMNS, _State.COLUMNS_EOF, _State.ROWS, _State.PARAMS,
                              _State.PREPARED_COLUMNS, _State.FIELDS)

    @property
    def may_be_complete(self) -> bool:
        """Only an EOF that the unknown dialect may or may not send is still missing."""
        return (self.state is _State.PARAMS_EOF and self.dialect is Dialect.UNKNOWN
                and self.prepared is not None and not self.prepared[1])

    # --- feeding -------------------------------------------------------------------------------------
    def feed(self, packet: MysqlPacket) -> bool:
        if self.ts is None:
            self.ts = packet.ts
        self.size += packet.wire_size
        _HANDLERS[self.state](self, packet)
        return self.state is _State.DONE

    def _first(self, packet: MysqlPacket) -> None:
        first = packet.first
        kind = self.kind
        if first == ERR:
            self._error(packet)
        elif kind is ResponseKind.SINGLE:
            self._maybe_ok(packet)
            self.state = _State.DONE
        elif first == OK or (first == 0xFE and kind is not ResponseKind.FIELD_LIST):
            if kind is ResponseKind.PREPARE and first == OK:
                self._prepare_ok(packet)
            elif kind is ResponseKind.AUTH and first != OK:
                self.state = _State.AUTH  # an auth switch request: more exchanges follow
            else:
                self._ok(packet)
        elif kind is ResponseKind.FIELD_LIST:
            self.state = _State.FIELDS
            self._fields(packet)
        elif kind is ResponseKind.AUTH:
            self.state = _State.AUTH
        elif first == LOCAL_INFILE and kind is ResponseKind.RESULT:
            self.state = _State.INFILE
        elif kind in (ResponseKind.RESULT, ResponseKind.BINARY_RESULT):
            self._column_count(packet)
        else:
            self.state = _State.DONE

    def _error(self, packet: MysqlPacket) -> None:
        err = parse_err(packet.payload)
        self.is_error = True
        self.error_code = err.code
        self.error_message = err.message
        self.state = _State.DONE

    def _maybe_ok(self, packet: MysqlPacket) -> None:
        if packet.first == OK and len(packet.payload) >= 3:
            try:
                ok = parse_ok(packet.payload)
            except ProtocolError:
                return
            self.affected_rows, self.insert_id = ok.affected_rows, ok.insert_id

    def _ok(self, packet: MysqlPacket) -> None:
        ok = parse_ok(packet.payload)
        self.affected_rows += ok.affected_rows
        self.insert_id = ok.insert_id or self.insert_id
        self.state = _State.FIRST if ok.status & ServerStatus.MORE_RESULTS_EXISTS else _State.DONE

    def _column_count(self, packet: MysqlPacket) -> None:
        c = Cursor(packet.payload)
        count = c.lenenc_int()
        if count == 0:
            raise ProtocolError("result set without columns")
        metadata = True
        if self.options.cache_metadata and c.remaining:
            metadata = bool(c.u8())
        if not self.num_fields:
            self.num_fields = count
        self._result = _Result()
        self._expected_columns = count
        if metadata:
            self.state = _State.COLUMNS
        else:
            cached = self.statement.columns if self.statement is not None else ()
            self._result.columns = list(cached)
            self._result.names = [col.name for col in cached]
            self.state = _State.ROWS if self.dialect is Dialect.DEPRECATE_EOF else _State.COLUMNS_EOF

    def _keep_column(self, column: Column) -> None:
        result = self._result
        if len(result.columns) < MAX_COLUMNS_KEPT:
            result.columns.append(column)
            result.names.append(column.name)
        if column.table:
            where = f"{column.schema}.{column.table}" if column.schema else column.table
            if where not in result.tables and len(result.tables) < MAX_TABLES_KEPT:
                result.tables.append(where)

    def _columns(self, packet: MysqlPacket) -> None:
        self._keep_column(read_column(packet.payload))
        self._expected_columns -= 1
        if self._expected_columns == 0:
            self.state = _State.ROWS if self.dialect is Dialect.DEPRECATE_EOF else _State.COLUMNS_EOF

    def _after_columns(self, packet: MysqlPacket) -> None:
        """The packet after the last column definition: a classic EOF, or (DEPRECATE_EOF) the first row."""
        payload = packet.payload
        if is_eof(payload, packet.length):
            if self.dialect is Dialect.CLASSIC_EOF or (
                    self.dialect is Dialect.UNKNOWN and len(payload) <= _CLASSIC_EOF_MAX):
                self.dialect = Dialect.CLASSIC_EOF
                self.state = _State.ROWS
                return
            self.dialect = Dialect.DEPRECATE_EOF  # an OK ending an empty result
            self._end_of_rows(packet)
            return
        if self.dialect is Dialect.UNKNOWN:
            self.dialect = Dialect.DEPRECATE_EOF
        self.state = _State.ROWS
        self._rows(packet)

    def _rows(self, packet: MysqlPacket) -> None:
        payload = packet.payload
        if packet.first == ERR:
            self._error(packet)
            return
        if is_eof(payload, packet.length):
            self._end_of_rows(packet)
            return
        self.num_rows += 1
        result = self._result
        if len(result.rows) < self.options.max_rows:
            binary = self.kind is ResponseKind.BINARY_RESULT
            values = binary_values(payload, result.columns) if binary else text_values(payload)
            try:
                result.rows.append(cut_row(values, self.options.max_row_length))
            except ProtocolError:
                self._count("malformed_rows")

    def _end_of_rows(self, packet: MysqlPacket) -> None:
        status = eof_status(packet.payload)
        if len(packet.payload) >= 7:
            self._maybe_ok_fe(packet)
        self._finish_result()
        self.state = _State.FIRST if status & ServerStatus.MORE_RESULTS_EXISTS else _State.DONE

    def _maybe_ok_fe(self, packet: MysqlPacket) -> None:
        try:
            ok = parse_ok(packet.payload)
        except ProtocolError:
            return
        self.affected_rows += ok.affected_rows

    def _finish_result(self) -> None:
        # Only the first result set of a multi-result response is rendered (and gives `path`).
        if self._first_result is None:
            self._first_result = self._result

    def _infile(self, packet: MysqlPacket) -> None:
        if packet.first == ERR:
            self._error(packet)
        else:
            self._ok(packet)

    def _prepare_ok(self, packet: MysqlPacket) -> None:
        c = Cursor(packet.payload, 1)
        statement_id, columns, params = c.u32(), c.u16(), c.u16()
        self.prepared = (statement_id, columns, params)
        self.num_fields = columns
        self._expected_columns = params
        if params:
            self.state = _State.PARAMS
        else:
            self._start_prepared_columns()

    def _start_prepared_columns(self) -> None:
        assert self.prepared is not None
        self._expected_columns = self.prepared[1]
        self.state = _State.PREPARED_COLUMNS if self._expected_columns else _State.DONE

    def _optional_eof(self) -> _State:
        # Without DEPRECATE_EOF an EOF closes the definitions. With the dialect unknown the response
        # ends here, and a trailing EOF is skipped as a packet without a command.
        return _State.PREPARED_COLUMNS_EOF if self.dialect is Dialect.CLASSIC_EOF else _State.DONE

    def _params(self, packet: MysqlPacket) -> None:
        self._expected_columns -= 1
        if self._expected_columns == 0:
            if self.dialect is Dialect.DEPRECATE_EOF:
                self._start_prepared_columns()
            else:
                self.state = _State.PARAMS_EOF

    def _params_eof(self, packet: MysqlPacket) -> None:
        if is_eof(packet.payload, packet.length):
            self.dialect = Dialect.CLASSIC_EOF
            self._start_prepared_columns()
            return
        self.dialect = Dialect.DEPRECATE_EOF  # no EOF: this is already the first column definition
        self._start_prepared_columns()
        if self.state is _State.PREPARED_COLUMNS:
            self._prepared_columns(packet)
        else:
            raise ProtocolError("packet after a statement description without columns")

    def _prepared_columns(self, packet: MysqlPacket) -> None:
        self._keep_column(read_column(packet.payload))
        self._expected_columns -= 1
        if self._expected_columns == 0:
            self.state = self._optional_eof()

    def _prepared_columns_eof(self, packet: MysqlPacket) -> None:
        self.state = _State.DONE

    def _fields(self, packet: MysqlPacket) -> None:
        if packet.first == ERR:
            self._error(packet)
        elif is_eof(packet.payload, packet.length):
            self._finish_result()
            self.state = _State.DONE
        else:
            self._keep_column(read_column(packet.payload))
            self.num_fields += 1

    def _auth(self, packet: MysqlPacket) -> None:
        if packet.first == ERR:
            self._error(packet)
        elif packet.first == OK:
            self._ok(packet)

    def _done(self, packet: MysqlPacket) -> None:
        raise ProtocolError("packet after the end of the response")

    # --- result ----------------------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(self._result.columns)

    def response(self, notes: tuple[str, ...] = ()) -> MysqlResponse:
        result = self._first_result if self._first_result is not None else self._result
        rendered = render_csv(result.names, result.rows) if result.names or result.rows else ""
        return MysqlResponse(
            ts=self.ts if self.ts is not None else 0.0,
            size=self.size,
            is_error=self.is_error,
            affected_rows=self.affected_rows,
            insert_id=self.insert_id,
            num_rows=self.num_rows,
            num_fields=self.num_fields,
            error_code=self.error_code,
            error_message=self.error_message,
            tables=", ".join(result.tables),
            rendered=rendered,
            notes=tuple(self.notes) + notes,
        )


_HANDLERS: dict[_State, Callable[[ResponseReader, MysqlPacket], None]] = {
    _State.FIRST: ResponseReader._first,
    _State.COLUMNS: ResponseReader._columns,
    _State.COLUMNS_EOF: ResponseReader._after_columns,
    _State.ROWS: ResponseReader._rows,
    _State.INFILE: ResponseReader._infile,
    _State.PARAMS: ResponseReader._params,
    _State.PARAMS_EOF: ResponseReader._params_eof,
    _State.PREPARED_COLUMNS: ResponseReader._prepared_columns,
    _State.PREPARED_COLUMNS_EOF: ResponseReader._prepared_columns_eof,
    _State.FIELDS: ResponseReader._fields,
    _State.AUTH: ResponseReader._auth,
    _State.DONE: ResponseReader._done,
}
