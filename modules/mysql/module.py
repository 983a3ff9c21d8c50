"""The `mysql` protocol module: MySQL and MariaDB's client/server protocol over TCP, Packetbeat's events."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, Transaction, Verdict
from packetshipper.settings import Spec

from .correlator import MysqlCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .framing import PacketFramer
from .messages import ConnectionState
from .probe import probe as probe_first_bytes
from .settings import SETTINGS, MysqlConfig


class MysqlModule(ProtocolModule):
    name: ClassVar[str] = "mysql"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (3306, 3307)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 20

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.mysql_config = MysqlConfig.from_mapping(config)
        # One shared state per connection, held by its framers and correlator and gone with them.
        self._states: dict[Connection, weakref.ref[ConnectionState]] = {}

    def _state(self, connection: Connection) -> ConnectionState:
        ref = self._states.get(connection)
        state = ref() if ref is not None else None
        if state is None:
            state = ConnectionState()
            self._states[connection] = weakref.ref(state, functools.partial(_forget, self._states, connection))
        return state

    def stream_parser(self, direction: Direction, connection: Connection) -> PacketFramer:
        return PacketFramer(direction, self._state(connection), self.mysql_config.max_message_size,
                            self._counter(connection, direction))

    def correlator(self, connection: Connection) -> MysqlCorrelator:
        return MysqlCorrelator(connection, self.mysql_config, self._state(connection), self.transaction_timeout,
                               self._counter(connection, None))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d mysql` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, self.mysql_config)


def _forget(states: dict[Connection, weakref.ref[ConnectionState]], connection: Connection,
            dead: weakref.ref[ConnectionState]) -> None:
    if states.get(connection) is dead:
        del states[connection]
