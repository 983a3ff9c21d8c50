"""A client command packet as a request: its name, SQL verb, query text, and what answer to expect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from packetshipper.protocol import ProtocolError

from .messages import MysqlPacket, MysqlRequest
from .response import ResponseKind, Statement
from .statements import StatementTable, execute_params, execute_statement_id
from .wire import COMMAND_NAMES, Command

__all__ = ["ParsedCommand", "parse_command", "sql_verb", "UNKNOWN_STATEMENT"]

UNKNOWN_STATEMENT = "The actual query being used is unknown"
_SPACE = " \r\n\t"
_NO_RESPONSE = frozenset({Command.QUIT, Command.STMT_CLOSE, Command.STMT_SEND_LONG_DATA})
_RESPONSE_KINDS: dict[int, ResponseKind] = {
    Command.QUERY: ResponseKind.RESULT,
    Command.PROCESS_INFO: ResponseKind.RESULT,
    Command.STMT_EXECUTE: ResponseKind.BINARY_RESULT,
    Command.STMT_FETCH: ResponseKind.BINARY_RESULT,
    Command.STMT_PREPARE: ResponseKind.PREPARE,
    Command.FIELD_LIST: ResponseKind.FIELD_LIST,
    Command.CHANGE_USER: ResponseKind.AUTH,
}


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    request: MysqlRequest
    expects: ResponseKind | None  # None: the server sends nothing back
    statement: Statement | None = None  # the prepared statement an execute runs
    opens_stream: bool = False  # binlog dump: the server streams replication events from here on


def sql_verb(query: str) -> str:
    """Packetbeat's method: the first word of the trimmed query, upper-cased."""
    text = query.strip(_SPACE)
    for index, char in enumerate(text):
        if char in _SPACE:
            return text[:index].upper()
    return text.upper()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_command(packet: MysqlPacket, statements: StatementTable, count: Callable[[str], None],
                  user: str = "") -> ParsedCommand:
    payload = packet.payload
    code = payload[0]
    name = COMMAND_NAMES.get(code)
    if name is None:
        count("unknown_commands")
        name = f"UNKNOWN_0x{code:02x}"
    args = payload[1:]
    notes: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    statement: Statement | None = None
    path = ""
    raw = ""
    if code in (Command.QUERY, Command.STMT_PREPARE):
        raw = _text(args)
        query = raw.strip(_SPACE)
        method = sql_verb(query)
        if packet.truncated:
            notes = ("Query longer than max_message_size: cut",)
    elif code in (Command.STMT_EXECUTE, Command.STMT_CLOSE, Command.STMT_RESET, Command.STMT_FETCH,
                  Command.STMT_SEND_LONG_DATA):
        statement_id = execute_statement_id(payload)
        statement = statements.get(statement_id)
        if code == Command.STMT_CLOSE:
            statements.remove(statement_id)
        if statement is None:
            count("unknown_statements")
            notes = (UNKNOWN_STATEMENT,)
            query = "Request Execute Statement" if code == Command.STMT_EXECUTE else f"{name} {statement_id}"
            method = name
        else:
            query = statement.query
            method = sql_verb(query) if code == Command.STMT_EXECUTE else name
            if code == Command.STMT_EXECUTE:
                try:
                    params = execute_params(payload, statement)
                except ProtocolError:
                    count("undecoded_params")
    elif code == Command.INIT_DB:
        path = _text(args)
        query, method = f"USE {path}", "USE"
    elif code in (Command.FIELD_LIST, Command.CREATE_DB, Command.DROP_DB):
        target = _text(args.split(b"\x00", 1)[0])
        query, method, path = f"{name} {target}".rstrip(), name, target
    elif code == Command.PROCESS_KILL:
        query, method = f"KILL {int.from_bytes(args[:4], 'little')}", name
    else:
        query, method = name, name
    request = MysqlRequest(ts=packet.ts, command=code, command_name=name, method=method, query=query,
                           size=packet.wire_size, raw=raw or query, path=path, params=params, user=user,
                           notes=notes)
    if code in _NO_RESPONSE:
        return ParsedCommand(request, None, statement)
    streams = code in (Command.BINLOG_DUMP, Command.BINLOG_DUMP_GTID)
    return ParsedCommand(request, _RESPONSE_KINDS.get(code, ResponseKind.SINGLE), statement, streams)
