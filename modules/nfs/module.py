"""The NFS protocol module: ONC RPC over TCP on 2049, NFS v3 and v4, Packetbeat's `nfs` events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import (
    Connection,
    Correlator,
    Direction,
    ProtocolModule,
    StreamParser,
    Transaction,
)
from packetshipper.settings import Setting, Spec

from .correlator import NfsCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .record import RecordParser

__all__ = ["NfsModule"]

SETTINGS: Spec = {
    "transaction_timeout": Setting(s.duration, 60.0, "how long a call waits for its reply (Packetbeat's nfs: 1m)"),
    "max_message_size": Setting(s.at_least(256, s.size), 65536,
                                "bytes kept of each RPC record for decoding; the rest of a longer one (READ "
                                "and WRITE data) is skipped and only counted in its size"),
    "max_pending_calls": Setting(s.at_least(1), 1024,
                                 "calls waiting for their reply per connection; beyond it the oldest is "
                                 "published unanswered"),
}


class NfsModule(ProtocolModule):
    name: ClassVar[str] = "nfs"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (2049,)
    settings: ClassVar[Spec] = SETTINGS

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.transaction_timeout = float(config.get("transaction_timeout", 60.0))
        self.max_message_size = int(config.get("max_message_size", 65536))
        self.max_pending_calls = int(config.get("max_pending_calls", 1024))

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return RecordParser(self.max_message_size, self._counter(connection, direction))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d nfs` on, one that also says where the anomaly was."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def correlator(self, connection: Connection) -> Correlator:
        return NfsCorrelator(connection, self.transaction_timeout, self.max_pending_calls,
                             self._counter(connection, None))

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
