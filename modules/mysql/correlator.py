"""One MySQL connection: the connection phase, then commands paired with the responses that follow them.

MySQL answers commands in order, one response per command, and numbers the packets of each exchange
0, 1, 2, ... across both directions. A client packet with sequence id 0 is therefore a new command, and
a server packet whose id does not follow the exchange's last one is not (or no longer) its response.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    ProtocolError,
    Status,
    Transaction,
)

from .commands import parse_command
from .framing import is_ssl_request
from .handshake import Login, Negotiated, refused
from .messages import ConnectionState, MysqlPacket, MysqlRequest, MysqlResponse, StreamGap
from .packets import ERR, OK, is_greeting, looks_like_login
from .response import Dialect, ReadOptions, ResponseKind, ResponseReader, Statement
from .settings import CONNECT, MysqlConfig
from .statements import LAST_PREPARED, StatementTable, execute_statement_id
from .wire import Command

__all__ = ["MysqlCorrelator", "REQUEST_LOSS", "RESPONSE_LOSS"]

REQUEST_LOSS = "Packet loss while capturing the request"
RESPONSE_LOSS = "Packet loss while capturing the response"
SEQUENCE_JUMP = "Response cut short: a packet out of sequence"


def _ignore(name: str, n: int = 1) -> None:
    pass


class Phase(enum.Enum):
    UNKNOWN = "unknown"  # capture began mid-connection, or after a failed login
    HANDSHAKE = "handshake"
    COMMAND = "command"
    OPAQUE = "opaque"  # TLS, compression or a replication stream: not parsed


@dataclass(slots=True)
class _Exchange:
    """A command awaiting (or reading) its response."""

    request: MysqlRequest
    reader: ResponseReader
    publish: bool
    seq: int  # the exchange's last sequence id, either direction
    statement: Statement | None = None
    extra_bytes: int = 0  # client packets after the command (LOCAL INFILE data, auth answers)
    reparse: MysqlPacket | None = None  # an execute of a prepare still unanswered: read it once answered
    notes: list[str] = field(default_factory=list)


class MysqlCorrelator(Correlator):
    def __init__(self, connection: Connection, config: MysqlConfig, state: ConnectionState, timeout: float,
                 count: Callable[[str], None]) -> None:
        self._connection = connection
        self._config = config
        self._state = state
        self._timeout = timeout
        self._count = count
        self._phase = Phase.UNKNOWN
        self._pending: deque[_Exchange] = deque()
        self._login: Login | None = None
        self._dialect = Dialect.UNKNOWN
        self._cache_metadata = False
        self._query_attributes: bool | None = None  # None: no handshake seen
        self._statements = StatementTable(config.max_statements, config.statement_timeout, count)
        self._user = ""
        self._server_desynced = False
        self._last_seen = float("-inf")
        # Rows are rendered only for `response`; without send_response they are only counted.
        kept = config.max_rows if config.send_response else 0
        self._options = ReadOptions(kept, config.max_row_length, False)
        self._cached_options = ReadOptions(kept, config.max_row_length, True)

    # --- messages ------------------------------------------------------------------------------------
    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if isinstance(message, StreamGap):
            return self._gap(direction) if self._phase is not Phase.OPAQUE else []
        if not isinstance(message, MysqlPacket):
            raise TypeError(f"not a MySQL packet: {type(message).__name__}")
        self._last_seen = max(self._last_seen, message.ts)
        if self._phase is Phase.OPAQUE:
            return []
        if direction is Direction.REQUEST:
            return self._client(message)
        return self._server(message)

    def _client(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        if is_ssl_request(packet):
            self._count("tls_connections")
            self._phase = Phase.OPAQUE
            self._login = None
            return []
        if packet.seq == 0 and packet.payload:
            return self._command(packet)
        login = self._login
        if login is not None and login.request is None and packet.seq == 1:
            return self._login_request(login, packet)
        if login is None and self._phase is Phase.UNKNOWN and packet.seq == 1 and looks_like_login(packet.payload):
            self._login = login = Login(packet.ts, None)
            return self._login_request(login, packet)
        if self._pending:
            head = self._pending[0]
            head.seq = packet.last_seq
            head.extra_bytes += packet.wire_size
        elif login is not None:
            login.client_bytes += packet.wire_size
        else:
            self._count("skipped_packets")
        return []

    def _server(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        if packet.seq == 0 and not self._pending:
            if is_greeting(packet.payload):
                return self._greeting(packet)
            if packet.first == ERR and self._phase is not Phase.COMMAND:
                return self._refused(packet)
        login = self._login
        if login is not None and not self._pending:
            return self._login_answer(login, packet)
        if not self._pending:
            if not self._server_desynced and packet.seq == 1 and packet.first in (OK, ERR):
                return self._unmatched_response(packet)
            self._count("skipped_packets")
            return []
        head = self._pending[0]
        reader = head.reader
        if packet.seq != (head.seq + 1) & 0xFF:
            self._count("out_of_sequence_packets")
            if not reader.started:
                return []
            self._pending.popleft()
            self._server_desynced = True
            return self._finish(head, (SEQUENCE_JUMP,))
        head.seq = packet.last_seq
        try:
            done = reader.feed(packet)
        except ProtocolError as exc:
            self._count("malformed_responses")
            self._pending.popleft()
            self._server_desynced = True
            return self._finish(head, (f"Malformed response: {exc}",), failed=True)
        if not done:
            return []
        self._pending.popleft()
        return self._finish(head)

    # --- commands ------------------------------------------------------------------------------------
    def _command(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        if self._login is not None:
            out.extend(self._abandon_login())
        self._phase = Phase.COMMAND
        # MariaDB's pipelining: an EXECUTE of the statement a PREPARE sent just before it is making.
        deferred = (packet.first == Command.STMT_EXECUTE and len(packet.payload) >= 5
                    and execute_statement_id(packet.payload) == LAST_PREPARED
                    and any(p.request.command == Command.STMT_PREPARE for p in self._pending))
        try:
            parsed = parse_command(packet, self._statements, _ignore if deferred else self._count, self._user,
                                   self._query_attributes)
        except ProtocolError:
            self._count("malformed_commands")
            return out
        if self._server_desynced:
            # The server side lost its place: start it afresh at its next segment, which holds the
            # answer to this command; what was waiting before it will not be answered in a way we can see.
            self._state.resync_server = True
            self._server_desynced = False
            while self._pending:
                out.extend(self._unmatched(self._pending.popleft()))
        while self._pending and self._pending[0].reader.may_be_complete:
            out.extend(self._finish(self._pending.popleft()))  # the client went on: nothing more came
        request = parsed.request
        publish = self._config.publishes(request.command_name)
        if parsed.expects is None:
            if publish:
                out.append(self._transaction(request, None, Status.OK, list(request.notes)))
            return out
        if parsed.opens_stream:
            self._count("replication_streams")
            self._phase = Phase.OPAQUE
            self._state.opaque = True
            if publish:
                out.append(self._transaction(request, None, Status.OK, list(request.notes)))
            return out
        if len(self._pending) >= self._config.max_pending_requests:
            self._count("pending_requests_overflow")
            out.extend(self._unmatched(self._pending.popleft()))
        options = self._cached_options if self._cache_metadata else self._options
        reader = ResponseReader(parsed.expects, options, self._dialect, parsed.statement, self._count)
        exchange = _Exchange(request, reader, publish, packet.last_seq, parsed.statement)
        if deferred:
            exchange.reparse = packet  # read again once the PREPARE is answered
        self._pending.append(exchange)
        return out

    def _finish(self, exchange: _Exchange, notes: tuple[str, ...] = (), failed: bool = False
                ) -> list[Transaction[Any, Any]]:
        if exchange.reparse is not None:
            parsed = parse_command(exchange.reparse, self._statements, self._count, self._user)
            exchange.request, exchange.statement = parsed.request, parsed.statement
        reader = exchange.reader
        if reader.dialect is not Dialect.UNKNOWN:
            self._dialect = reader.dialect
        response = reader.response(notes)
        request = exchange.request
        if exchange.extra_bytes:
            request = dataclasses.replace(request, size=request.size + exchange.extra_bytes)
        if not response.is_error and not failed:
            self._remember(exchange, reader, request)
        if not exchange.publish:
            return []
        status = Status.ERROR if response.is_error or failed else Status.OK
        return [self._transaction(request, response, status, [*request.notes, *exchange.notes, *response.notes])]

    def _remember(self, exchange: _Exchange, reader: ResponseReader, request: MysqlRequest) -> None:
        """What a successful response tells about the connection: statements, database, user."""
        command = request.command
        if command == Command.STMT_PREPARE and reader.prepared is not None:
            statement_id, _, params = reader.prepared
            self._statements.add(statement_id, Statement(request.query, params, request.ts, columns=reader.columns))
        elif command == Command.STMT_EXECUTE and exchange.statement is not None and reader.columns:
            exchange.statement.columns = reader.columns
        elif command == Command.CHANGE_USER:
            self._user = request.user

    def _unmatched(self, exchange: _Exchange) -> list[Transaction[Any, Any]]:
        self._count("unmatched_requests")
        if not exchange.publish:
            return []
        request = exchange.request
        if exchange.reader.started:
            response = exchange.reader.response()
            return [self._transaction(request, response, Status.ERROR,
                                      [*request.notes, *exchange.notes, *response.notes, "Response incomplete"])]
        return [self._transaction(request, None, Status.ERROR, [*request.notes, *exchange.notes, UNMATCHED_REQUEST])]

    def _unmatched_response(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        self._count("unmatched_responses")
        reader = ResponseReader(ResponseKind.SINGLE, self._options, self._dialect)
        try:
            reader.feed(packet)
        except ProtocolError:
            return []
        return [self._transaction(None, reader.response(), Status.ERROR, [UNMATCHED_RESPONSE])]

    # --- the connection phase ------------------------------------------------------------------------
    def _greeting(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        out = self._abandon_login() if self._login is not None else []
        self._phase = Phase.HANDSHAKE
        self._login = Login.from_greeting(packet, self._count)
        return out

    def _login_request(self, login: Login, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        self._phase = Phase.HANDSHAKE
        login.take_request(packet, self._count)
        return []

    def _login_answer(self, login: Login, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        if login.request is None:
            login.server_bytes += packet.wire_size
            self._count("skipped_packets")
            return []
        login.answer(packet)
        first = packet.first
        if first not in (OK, ERR):
            return []  # an auth switch request or more auth data: the exchange goes on
        self._login = None
        if first == ERR:
            self._phase = Phase.UNKNOWN
            self._count("failed_logins")
            return [self._transaction(login.whole_request(), login.response(packet.payload), Status.ERROR, [])]
        self._phase = Phase.COMMAND
        self._user = login.request.user
        self._negotiate(login.negotiated())
        if not self._config.publishes(CONNECT):
            return []
        return [self._transaction(login.whole_request(), login.response(), Status.OK, [])]

    def _negotiate(self, negotiated: Negotiated) -> None:
        if negotiated.dialect is not Dialect.UNKNOWN:
            self._dialect = negotiated.dialect
        self._query_attributes = negotiated.query_attributes
        self._cache_metadata = negotiated.cache_metadata
        if negotiated.compressed:
            self._count("compressed_connections")
            self._phase = Phase.OPAQUE
            self._state.opaque = True

    def _refused(self, packet: MysqlPacket) -> list[Transaction[Any, Any]]:
        self._count("failed_logins")
        request, response = refused(packet)
        return [self._transaction(request, response, Status.ERROR, [])]

    def _abandon_login(self) -> list[Transaction[Any, Any]]:
        login, self._login = self._login, None
        if login is None or login.request is None:
            return []
        self._count("unanswered_logins")
        if not self._config.publishes(CONNECT):
            return []
        return [self._transaction(login.whole_request(), None, Status.ERROR, [UNMATCHED_REQUEST])]

    # --- time and loss -------------------------------------------------------------------------------
    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        self._statements.expire(now)
        if now - self._last_seen <= self._timeout:
            return []
        out: list[Transaction[Any, Any]] = []
        while self._pending:
            out.extend(self._unmatched(self._pending.popleft()))
        if self._login is not None:
            out.extend(self._abandon_login())
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        while self._pending:
            out.extend(self._unmatched(self._pending.popleft()))
        if self._login is not None:
            out.extend(self._abandon_login())
        return out

    def _gap(self, direction: Direction) -> list[Transaction[Any, Any]]:
        """Bytes were lost; the framer of that direction starts afresh at its next segment."""
        if direction is Direction.REQUEST:
            self._count("gaps_in_requests")
            if self._pending and not self._pending[-1].reader.started:
                self._pending[-1].notes.append(REQUEST_LOSS)
            return []
        self._count("gaps_in_responses")
        self._server_desynced = True
        if self._pending and self._pending[0].reader.in_result:
            # Enough of a result set was read to be worth publishing (Packetbeat does the same); the
            # rest of this response is skipped.
            return self._finish(self._pending.popleft(), (RESPONSE_LOSS,))
        return []

    # --- building ------------------------------------------------------------------------------------
    def _transaction(self, request: MysqlRequest | None, response: MysqlResponse | None, status: Status,
                     notes: list[str]) -> Transaction[Any, Any]:
        first = request if request is not None else response
        assert first is not None
        return Transaction(
            connection=self._connection,
            request=request,
            response=response,
            start=first.ts,
            end=response.ts if response is not None else first.ts,
            request_bytes=request.size if request is not None else 0,
            response_bytes=response.size if response is not None else 0,
            status=status,
            error="; ".join(dict.fromkeys(notes)) or None,
        )
