"""The `mongodb` protocol module: the MongoDB wire protocol, Packetbeat's `mongodb` events."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, StreamParser, Transaction, Verdict
from packetshipper.settings import Spec

from . import documents
from .correlator import MongoCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .parser import MongoStreamParser
from .probe import probe as probe_first_bytes
from .settings import SETTINGS, MongoConfig

__all__ = ["MongodbModule"]

log = logging.getLogger("packetshipper.mongodb")
_warned = False


class MongodbModule(ProtocolModule):
    name: ClassVar[str] = "mongodb"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (27017,)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 40

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.mongo_config = MongoConfig.from_mapping(config)
        if not documents.AVAILABLE:
            global _warned
            if not _warned:  # the config is validated, then built: say it once per process
                _warned = True
                log.warning("mongodb: %s", documents.MISSING_REASON)
            self.count("bson_unavailable")

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return MongoStreamParser(self.mongo_config, direction, self._counter(connection, direction))

    def correlator(self, connection: Connection) -> MongoCorrelator:
        return MongoCorrelator(connection, self.mongo_config.max_pending_requests, self.transaction_timeout,
                               self._counter(connection, None))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d mongodb` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, self.mongo_config)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
