"""Pairs the statements a PostgreSQL client sends with the results the server returns.

A *cycle* is what one ReadyForQuery ends: a simple Query (one statement per result), or the extended
protocol's messages up to a Sync (one statement per Execute, its text carried from the Parse through
the Bind). Results answer the oldest cycle's statements in order; an ErrorResponse answers the
current one, and the server skips the rest of that cycle. The startup phase (StartupMessage to the
first ReadyForQuery) yields an event only when it fails.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    Status,
    Transaction,
)
from packetshipper.records import record

from .messages import RESULT_CUT, Back, BackendMessage, Front, FrontendMessage
from .settings import PgsqlConfig
from .statements import method_of, split_statements

__all__ = ["PgsqlCorrelator", "PgsqlRequest", "LOGIN", "QUERY_NOT_KEPT"]

LOGIN = "LOGIN"  # `method` of a failed startup
QUERY_NOT_KEPT = "Query over max_message_size: its text was not kept"

Count = Callable[..., None]


@record
class PgsqlRequest:
    """What the event says about the client's side of a transaction."""

    query: str | None  # None: a login, or text not kept
    method: str
    user: str | None = None
    database: str | None = None
    application_name: str | None = None


@dataclass(slots=True)
class _Statement:
    query: str | None
    method: str
    ts: float
    request_bytes: int
    hidden: bool = False  # answered, never published (Packetbeat's SET via Parse; an empty Query)
    prepare_only: bool = False  # Parse without Execute: published only if it fails
    notes: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    notice_bytes: int = 0
    gaps: int = 0  # TCP gaps given up on while its result was arriving


@dataclass(slots=True)
class _Cycle:
    statements: deque[_Statement] = field(default_factory=deque)
    synced: bool = True  # False while an extended cycle still waits for its Sync
    failed: bool = False  # an ErrorResponse came: the server skips to the end of the cycle


class PgsqlCorrelator(Correlator):
    def __init__(self, connection: Connection, config: PgsqlConfig, timeout: float, count: Count) -> None:
        self._connection = connection
        self._timeout = timeout
        self._count = count
        self._max_pending = config.max_pending_requests
        self._max_prepared = config.max_prepared_statements
        self._max_notices = config.max_notices
        self._cycles: deque[_Cycle] = deque()
        self._open: _Cycle | None = None  # the extended cycle the client is still sending
        self._pending = 0  # statements waiting, over all cycles
        self._unit_ts: float | None = None  # first extended message since the last Execute / Sync
        self._unit_bytes = 0
        self._unit_parse: str | None = None  # text of a Parse in the current unit
        self._unit_parsed = False
        self._statements: OrderedDict[str, str | None] = OrderedDict()  # prepared statement -> text
        self._portals: OrderedDict[str, str | None] = OrderedDict()  # portal -> text
        self._login: _Statement | None = None
        self._user: str | None = None
        self._database: str | None = None
        self._application: str | None = None
        self._last_seen = float("-inf")

    # --- Correlator ----------------------------------------------------------------------------------
    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        self._last_seen = max(self._last_seen, ts)
        if isinstance(message, FrontendMessage):
            return self._FRONT[message.kind](self, message)
        if isinstance(message, BackendMessage):
            return self._BACK[message.kind](self, message)
        raise TypeError(f"not a pgsql message: {type(message).__name__}")

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        # Like Packetbeat, give up only once the connection has been idle for the timeout: expiring
        # one statement early would shift every later pairing.
        if now - self._last_seen <= self._timeout:
            return []
        if self._login is not None:
            self._login = None
            self._count("logins_unfinished")
        return self._flush()

    def note_gap(self, direction: Direction, nbytes: int, ts: float) -> None:
        # The result streams in after the transaction's `end` (its first byte): mark the statement itself.
        statement = self._current()
        if statement is not None:
            statement.gaps += 1

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        if self._login is not None:
            self._login = None
            self._count("logins_unfinished")
        return self._flush()

    # --- frontend ------------------------------------------------------------------------------------
    def _startup(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        self._user = m.param("user")
        self._database = m.param("database") or self._user  # the server's default, too
        self._application = m.param("application_name")
        self._login = _Statement(None, LOGIN, m.ts, m.size)
        return []

    def _password(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        if self._login is not None:
            self._login.request_bytes += m.size
        return []

    def _query(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        cycle = _Cycle()
        if m.sql is None:
            statement = _Statement(None, "", m.ts, m.size)
            statement.notes.append(QUERY_NOT_KEPT)
            self._add(cycle, statement, out)
        else:
            texts = split_statements(m.sql, self._max_pending)
            for text in texts:  # Packetbeat gives each statement the whole message's size
                self._add(cycle, _Statement(text, method_of(text), m.ts, m.size), out)
            if not texts:  # answered by EmptyQueryResponse
                self._add(cycle, _Statement("", "", m.ts, m.size, hidden=True), out)
        self._push(cycle, out)
        return out

    def _parse(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        self._remember(self._statements, m.name, m.sql)
        self._unit(m)
        self._unit_parse, self._unit_parsed = m.sql, True
        return []

    def _bind(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        if m.name in self._statements:
            text = self._statements[m.name]
        else:
            text = None
            self._count("unknown_statements")  # prepared before the capture began, or forgotten
        self._remember(self._portals, m.portal, text)
        self._unit(m)
        return []

    def _close_object(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        kind, _, name = m.name.partition(":")
        table = self._statements if kind == "S" else self._portals
        if name:
            table.pop(name, None)
        self._unit(m)
        return []

    def _other_extended(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        self._unit(m)
        return []

    def _execute(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        text = self._portals.get(m.name)
        self._unit(m)
        assert self._unit_ts is not None
        statement = _Statement(text, method_of(text) if text else "", self._unit_ts, self._unit_bytes,
                               hidden=bool(text and text.startswith("SET ")))
        if text is None:
            statement.notes.append("Statement prepared before the capture began: its text is unknown")
        self._add(self._extended_cycle(out), statement, out)
        self._unit_ts, self._unit_bytes, self._unit_parse, self._unit_parsed = None, 0, None, False
        return out

    def _sync(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        cycle = self._extended_cycle(out)
        if self._unit_parsed and self._unit_ts is not None:
            text = self._unit_parse
            statement = _Statement(text, method_of(text) if text else "", self._unit_ts,
                                   self._unit_bytes + m.size, prepare_only=True)
            self._add(cycle, statement, out)
        elif cycle.statements:
            cycle.statements[-1].request_bytes += self._unit_bytes + m.size
        cycle.synced = True
        self._open = None
        self._unit_ts, self._unit_bytes, self._unit_parse, self._unit_parsed = None, 0, None, False
        return out

    def _copy_end(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        statement = self._current()
        if statement is not None:
            statement.request_bytes += m.size
            statement.notes.extend(m.notes)
        return []

    def _function_call(self, m: FrontendMessage) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        cycle = _Cycle()
        self._add(cycle, _Statement(None, "FUNCTION_CALL", m.ts, m.size), out)
        self._push(cycle, out)
        return out

    def _ignore(self, m: Any) -> list[Transaction[Any, Any]]:
        return []

    # --- backend -------------------------------------------------------------------------------------
    def _auth(self, m: BackendMessage) -> list[Transaction[Any, Any]]:
        return []

    def _result(self, m: BackendMessage) -> list[Transaction[Any, Any]]:
        cycle = self._cycles[0] if self._cycles else None
        if cycle is None:
            if self._login is not None:  # a result before the startup ended: not ours to pair
                return []
            self._count("unmatched_responses")
            return [self._transaction(None, m, error=UNMATCHED_RESPONSE)]
        if cycle.failed or not cycle.statements:
            self._count("results_without_statement")
            return []
        statement = cycle.statements.popleft()
        self._pending -= 1
        if m.kind is Back.ERROR:
            cycle.failed = True
        return self._answered(statement, m)

    def _error(self, m: BackendMessage) -> list[Transaction[Any, Any]]:
        login = self._login
        if login is not None and not self._cycles:
            self._login = None
            self._count("failed_logins")
            return [self._transaction(login, m)]
        return self._result(m)

    def _notice(self, m: BackendMessage) -> list[Transaction[Any, Any]]:
        statement = self._current() or self._login
        if statement is None or m.error is None:
            self._count("notices_without_statement")
            return []
        statement.notice_bytes += m.size
        if len(statement.notices) >= self._max_notices:
            self._count("notices_dropped")
            return []
        statement.notices.append(f"{m.error.severity} {m.error.code}: {m.error.message}".strip())
        return []

    def _ready(self, m: BackendMessage) -> list[Transaction[Any, Any]]:
        if self._login is not None and not self._cycles:
            self._login = None
            self._count("logins")
            return []
        if not self._cycles:
            return []
        cycle = self._cycles.popleft()
        if self._open is cycle:
            self._open = None
        if cycle.statements:
            self._pending -= len(cycle.statements)
            for statement in cycle.statements:
                self._count("statements_skipped_after_error" if cycle.failed else
                            "prepared_without_execute" if statement.prepare_only else "statements_without_result")
        return []

    # --- helpers -------------------------------------------------------------------------------------
    def _unit(self, m: FrontendMessage) -> None:
        if self._unit_ts is None:
            self._unit_ts = m.ts
        self._unit_bytes += m.size

    def _remember(self, table: OrderedDict[str, str | None], name: str, text: str | None) -> None:
        table[name] = text
        table.move_to_end(name)
        if len(table) > self._max_prepared:
            table.popitem(last=False)
            self._count("prepared_statements_forgotten")

    def _current(self) -> _Statement | None:
        cycle = self._cycles[0] if self._cycles else None
        if cycle is None or cycle.failed or not cycle.statements:
            return None
        return cycle.statements[0]

    def _extended_cycle(self, out: list[Transaction[Any, Any]]) -> _Cycle:
        if self._open is None:
            self._open = _Cycle(synced=False)
            self._push(self._open, out)
        return self._open

    def _push(self, cycle: _Cycle, out: list[Transaction[Any, Any]]) -> None:
        self._cycles.append(cycle)
        while len(self._cycles) > self._max_pending:
            oldest = self._cycles.popleft()
            if oldest is self._open:
                self._open = None
            self._count("pending_requests_overflow", max(1, len(oldest.statements)))
            self._pending -= len(oldest.statements)
            out.extend(self._unanswered(s) for s in oldest.statements)

    def _add(self, cycle: _Cycle, statement: _Statement, out: list[Transaction[Any, Any]]) -> None:
        cycle.statements.append(statement)
        self._pending += 1
        while self._pending > self._max_pending:
            oldest = next((c for c in self._cycles if c.statements), cycle)
            self._pending -= 1
            self._count("pending_requests_overflow")
            out.append(self._unanswered(oldest.statements.popleft()))
            if not oldest.statements and oldest is not cycle and oldest is not self._open:
                self._cycles.remove(oldest)

    def _flush(self) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        for cycle in self._cycles:
            if cycle.failed:
                continue
            out.extend(self._unanswered(s) for s in cycle.statements)
        self._cycles.clear()
        self._open = None
        self._pending = 0
        return out

    def _unanswered(self, statement: _Statement) -> Transaction[Any, Any]:
        if statement.hidden:
            self._count("hidden_statements")
        self._count("unmatched_requests")
        return self._transaction(statement, None, error=UNMATCHED_REQUEST)

    def _answered(self, statement: _Statement, m: BackendMessage) -> list[Transaction[Any, Any]]:
        if statement.hidden:
            self._count("hidden_statements")
            return []
        if statement.prepare_only and m.kind is not Back.ERROR:
            self._count("prepared_without_execute")
            return []
        return [self._transaction(statement, m)]

    def _transaction(self, statement: _Statement | None, response: BackendMessage | None, *,
                     error: str | None = None) -> Transaction[PgsqlRequest, BackendMessage]:
        notes: list[str] = []
        request = None
        if statement is not None:
            notes.extend(statement.notes)
            request = PgsqlRequest(statement.query, statement.method, self._user, self._database,
                                   self._application)
        if response is not None:
            notes.extend(response.notes)
        if error:
            notes.append(error)
        first = statement.ts if statement is not None else response.ts if response is not None else 0.0
        failed = error is not None or (response is not None and (response.kind is Back.ERROR
                                                                 or RESULT_CUT in response.notes))
        return Transaction(
            connection=self._connection,
            request=request,
            response=response,
            start=first,
            end=response.ts if response is not None else first,
            request_bytes=statement.request_bytes if statement is not None else 0,
            response_bytes=(response.size if response is not None else 0)
            + (statement.notice_bytes if statement is not None else 0),
            status=Status.ERROR if failed else Status.OK,
            error="; ".join(notes) or None,
            notes=tuple(statement.notices) if statement is not None else (),
            gaps=statement.gaps if statement is not None else 0,
        )

    _FRONT: dict[Front, Callable[[PgsqlCorrelator, FrontendMessage], list[Transaction[Any, Any]]]] = {
        Front.STARTUP: _startup,
        Front.SSL_REQUEST: _ignore,
        Front.GSSENC_REQUEST: _ignore,
        Front.CANCEL: _ignore,
        Front.PASSWORD: _password,
        Front.QUERY: _query,
        Front.PARSE: _parse,
        Front.BIND: _bind,
        Front.DESCRIBE: _other_extended,
        Front.EXECUTE: _execute,
        Front.SYNC: _sync,
        Front.FLUSH: _other_extended,
        Front.CLOSE: _close_object,
        Front.COPY_END: _copy_end,
        Front.FUNCTION_CALL: _function_call,
        Front.TERMINATE: _ignore,
    }
    _BACK: dict[Back, Callable[[PgsqlCorrelator, BackendMessage], list[Transaction[Any, Any]]]] = {
        Back.SSL_ANSWER: _ignore,
        Back.AUTH: _auth,
        Back.READY: _ready,
        Back.RESULT: _result,
        Back.EMPTY_QUERY: _result,
        Back.SUSPENDED: _result,
        Back.ERROR: _error,
        Back.NOTICE: _notice,
        Back.FUNCTION_RESULT: _result,
    }
