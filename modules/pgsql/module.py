"""The `pgsql` protocol module: PostgreSQL's frontend/backend protocol 3.0, Packetbeat's `pgsql` events."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, StreamParser, Transaction, Verdict
from packetshipper.settings import Spec

from .correlator import PgsqlCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .parser import BackendParser, FrontendParser, Negotiation
from .probe import probe as probe_first_bytes
from .settings import SETTINGS, PgsqlConfig

__all__ = ["PgsqlModule"]


class PgsqlModule(ProtocolModule):
    name: ClassVar[str] = "pgsql"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (5432,)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 30

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.pgsql_config = PgsqlConfig.from_mapping(config)
        # One negotiation state per connection, shared by its two parsers and gone with them.
        self._negotiations: dict[Connection, weakref.ref[Negotiation]] = {}

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        ref = self._negotiations.get(connection)
        negotiation = ref() if ref is not None else None
        if negotiation is None:
            negotiation = Negotiation()
            self._negotiations[connection] = weakref.ref(
                negotiation, functools.partial(_forget, self._negotiations, connection))
        parser = FrontendParser if direction == Direction.REQUEST else BackendParser
        return parser(self.pgsql_config, negotiation, self._counter(connection, direction))

    def correlator(self, connection: Connection) -> PgsqlCorrelator:
        return PgsqlCorrelator(connection, self.pgsql_config, self.transaction_timeout,
                               self._counter(connection, None))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d pgsql` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, self.pgsql_config)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)


def _forget(negotiations: dict[Connection, weakref.ref[Negotiation]], connection: Connection,
            dead: weakref.ref[Negotiation]) -> None:
    """A connection's negotiation state died: drop its entry, unless a newer one already took the key."""
    if negotiations.get(connection) is dead:
        del negotiations[connection]
