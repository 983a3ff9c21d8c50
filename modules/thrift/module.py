"""The `thrift` protocol module: Thrift RPC calls and replies, Packetbeat's `thrift` events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, StreamParser, Transaction
from packetshipper.settings import Spec

from .correlator import ThriftCorrelator
from .debug import DEBUG, REASONS
from .event import event_fields
from .idl import Idl, load_idl
from .parser import ThriftStreamParser
from .settings import SETTINGS, ThriftConfig

__all__ = ["ThriftModule"]


class ThriftModule(ProtocolModule):
    name: ClassVar[str] = "thrift"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (9090,)
    settings: ClassVar[Spec] = SETTINGS

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.thrift_config = ThriftConfig.from_mapping(config)
        self.idl: Idl | None = load_idl(list(self.thrift_config.idl_files)) if self.thrift_config.idl_files else None

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return ThriftStreamParser(self.thrift_config, self._counter(connection, direction))

    def correlator(self, connection: Connection) -> ThriftCorrelator:
        return ThriftCorrelator(connection, max_pending=self.thrift_config.max_pending_requests,
                                timeout=self.transaction_timeout, count=self._counter(connection, None))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d thrift` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, self.thrift_config, self.idl)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        call, reply = transaction.request, transaction.response
        asked = call.method if call is not None else "(no call)"
        answered = "(no reply)" if reply is None else ("exception" if reply.kind == 3 or (
            reply.fields and reply.fields[0][0] != 0) else "reply")
        return f"{asked} -> {answered}"
