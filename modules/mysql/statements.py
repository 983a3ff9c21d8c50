"""Prepared statements of one connection: a bounded table, and the parameters of COM_STMT_EXECUTE."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from packetshipper.protocol import ProtocolError

from .response import Statement
from .values import NULL_TEXT, binary_value
from .wire import Cursor

__all__ = ["StatementTable", "execute_params", "execute_statement_id", "LAST_PREPARED"]

_UNSIGNED = 0x80
LAST_PREPARED = 0xFFFFFFFF  # MariaDB: the statement the previous (pipelined) COM_STMT_PREPARE made


class StatementTable:
    """Statement id -> Statement, at most `limit` of them, each kept at most `timeout` seconds."""

    def __init__(self, limit: int, timeout: float, count: Callable[[str], None]) -> None:
        self._limit = limit
        self._timeout = timeout
        self._count = count
        self._items: OrderedDict[int, Statement] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, statement_id: int, statement: Statement) -> None:
        self._items.pop(statement_id, None)
        if self._limit <= 0:
            self._count("statements_over_limit")
            return
        if len(self._items) >= self._limit:
            self._items.popitem(last=False)
            self._count("statements_over_limit")
        self._items[statement_id] = statement

    def get(self, statement_id: int) -> Statement | None:
        if statement_id == LAST_PREPARED:
            return next(reversed(self._items.values()), None)
        return self._items.get(statement_id)

    def remove(self, statement_id: int) -> None:
        self._items.pop(statement_id, None)

    def expire(self, now: float) -> None:
        while self._items:
            statement_id, oldest = next(iter(self._items.items()))
            if now - oldest.created <= self._timeout:
                return
            del self._items[statement_id]
            self._count("statements_expired")


def execute_statement_id(payload: bytes) -> int:
    return Cursor(payload, 1).u32()


def execute_params(payload: bytes, statement: Statement) -> tuple[str, ...]:
    """COM_STMT_EXECUTE's bound values as text (NULL for a null one); ProtocolError if they do not decode.

    Layout: command, statement id (4), flags (1), iterations (4), then with parameters a null bitmap,
    the new-params-bound flag and, when it is 1, a (type, flags) pair per parameter, then the values.
    Types bound by an earlier execute of the same statement are remembered on it.
    """
    count = statement.num_params
    if count <= 0:
        return ()
    c = Cursor(payload, 10)
    null_bitmap = c.fixed((count + 7) // 8)
    if c.u8():
        types = []
        for _ in range(count):
            field_type, flags = c.u8(), c.u8()
            types.append((field_type, bool(flags & _UNSIGNED)))
        statement.param_types = tuple(types)
    elif len(statement.param_types) != count:
        raise ProtocolError("execute without parameter types, and none bound before")
    values = []
    for index, (field_type, unsigned) in enumerate(statement.param_types):
        if null_bitmap[index // 8] >> (index % 8) & 1:
            values.append(NULL_TEXT)
        else:
            values.append(binary_value(c, field_type, unsigned))
    return tuple(values)
