"""The `cassandra` protocol module: the CQL native protocol, Packetbeat's `cassandra` events."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, StreamParser, Transaction
from packetshipper.settings import Spec

from .correlator import CassandraCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .frames import Session
from .parser import CassandraStreamParser
from .settings import SETTINGS, CassandraConfig

__all__ = ["CassandraModule"]


class CassandraModule(ProtocolModule):
    name: ClassVar[str] = "cassandra"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (9042,)
    settings: ClassVar[Spec] = SETTINGS

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.cassandra_config = CassandraConfig.from_mapping(config)
        # Both directions' parsers share what the connection negotiated (compression, version).
        self._sessions: OrderedDict[int, Session] = OrderedDict()

    def _session(self, connection: Connection) -> Session:
        key = connection.connection_id
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = Session()
            if len(self._sessions) > self.cassandra_config.max_sessions:
                self._sessions.popitem(last=False)
                self.count("sessions_evicted")
        else:
            self._sessions.move_to_end(key)
        return session

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return CassandraStreamParser(self.cassandra_config, direction, self._session(connection),
                                     self._counter(connection, direction))

    def correlator(self, connection: Connection) -> CassandraCorrelator:
        config = self.cassandra_config
        return CassandraCorrelator(connection, max_pending=config.max_pending_requests,
                                   timeout=self.transaction_timeout, ignored=config.ignored_ops,
                                   count=self._counter(connection, None),
                                   on_close=lambda: self._forget(connection))

    def _forget(self, connection: Connection) -> None:
        self._sessions.pop(connection.connection_id, None)

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d cassandra` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, self.cassandra_config)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
