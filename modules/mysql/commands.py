"""A client command packet as a request: its name, SQL verb, query text, and what answer to expect."""

from __future__ import annotations

from collections.abc import Callable

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .messages import MysqlPacket, MysqlRequest
from .response import ResponseKind, Statement
from .statements import StatementTable, execute_params, execute_statement_id
from .values import binary_value
from .wire import COMMAND_NAMES, Command, Cursor

__all__ = ["ParsedCommand", "parse_command", "sql_verb", "UNKNOWN_STATEMENT"]

UNKNOWN_STATEMENT = "The actual query being used is unknown"
_SPACE = " \r\n\t"
_NO_RESPONSE = frozenset({Command.QUIT, Command.STMT_CLOSE, Command.STMT_SEND_LONG_DATA})
_RESPONSE_KINDS: dict[int, ResponseKind] = {
    Command.QUERY: ResponseKind.RESULT,
    Command.PROCESS_INFO: ResponseKind.RESULT,
    Command.STMT_EXECUTE: ResponseKind.BINARY_RESULT,
    Command.STMT_FETCH: ResponseKind.FETCH,
    Command.STMT_PREPARE: ResponseKind.PREPARE,
    Command.FIELD_LIST: ResponseKind.FIELD_LIST,
    Command.CHANGE_USER: ResponseKind.AUTH,
}


@record
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


def _query_text(payload: bytes, attributes: bool | None) -> bytes:
    """COM_QUERY's text. With CLIENT_QUERY_ATTRIBUTES (MySQL 8.0.23+) a parameter count and a parameter
    set count come first, then the attributes; unnegotiated (or unknown with no attributes: the bytes
    00 01 never start SQL) the text follows the command byte."""
    if attributes is None:
        attributes = payload[1:3] == b"\x00\x01"
    if not attributes:
        return payload[1:]
    c = Cursor(payload, 1)
    count = c.lenenc_int()
    c.lenenc_int()  # parameter sets, always 1
    if count:
        c.fixed((count + 7) // 8)  # null bitmap
        if c.u8():
            types = []
            for _ in range(count):
                types.append((c.u8(), bool(c.u8() & 0x80)))
                c.lenenc_bytes()  # the attribute's name
            for field_type, unsigned in types:
                binary_value(c, field_type, unsigned)
    return c.rest()


def parse_command(packet: MysqlPacket, statements: StatementTable, count: Callable[[str], None],
                  user: str = "", query_attributes: bool | None = False) -> ParsedCommand:
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
        raw = _text(_query_text(payload, query_attributes) if code == Command.QUERY else args)
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
    elif code == Command.CHANGE_USER:
        user = _text(args.split(b"\x00", 1)[0])  # who the connection becomes
        query, method = f"CHANGE_USER {user}".rstrip(), name
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
