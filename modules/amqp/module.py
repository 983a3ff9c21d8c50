"""The AMQP 0-9-1 protocol module: settings, factories for the core, and event fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.protocol import (
    Connection,
    Correlator,
    Direction,
    ProtocolModule,
    StreamParser,
    Transaction,
    Verdict,
)
from packetshipper.settings import Setting, Spec

from .correlator import AmqpCorrelator, Exchange
from .event import EventOptions, amqp_event_fields
from .parser import PROTOCOL_HEADER, AmqpStreamParser

__all__ = ["AmqpModule"]


class AmqpModule(ProtocolModule):
    name: ClassVar[str] = "amqp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (5672,)
    probe_order: ClassVar[int] = 20  # an 8-byte magic header: strict
    settings: ClassVar[Spec] = {
        "max_body_length": Setting(s.at_least(0), 1000, "bytes of a message body kept for `request`/`response`"),
        "parse_headers": Setting(s.boolean, True, "report content headers as `amqp.headers`"),
        "parse_arguments": Setting(s.boolean, True, "report method arguments tables as `amqp.arguments`"),
        "hide_connection_information": Setting(
            s.boolean, True, "leave out connection.start/tune/open, channel.open/flow and basic.qos exchanges"),
        "max_frame_size": Setting(s.at_least(4096), 10 << 20,
                                  "largest AMQP frame read; a larger one drops the direction (counted)"),
        "max_pending_requests": Setting(s.at_least(1), 1000,
                                        "requests waiting for their answer per connection; over it the oldest goes"),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.max_body_length = int(config.get("max_body_length", 1000))
        self.max_frame_size = int(config.get("max_frame_size", 10 << 20))
        self.max_pending = int(config.get("max_pending_requests", 1000))
        self.hide = bool(config.get("hide_connection_information", True))
        self.options = EventOptions(
            parse_headers=bool(config.get("parse_headers", True)),
            parse_arguments=bool(config.get("parse_arguments", True)),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
        )

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return AmqpStreamParser(self.max_frame_size, self.max_body_length, self.count)

    def correlator(self, connection: Connection) -> Correlator:
        return AmqpCorrelator(connection, self.transaction_timeout, self.hide, self.max_pending, self.count)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return amqp_event_fields(transaction, self.options)

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        if transport != "tcp" or direction is not Direction.REQUEST:
            return Verdict.NO
        if len(data) < len(PROTOCOL_HEADER):
            return Verdict.NEED_MORE if PROTOCOL_HEADER.startswith(data) else Verdict.NO
        return Verdict.YES if data.startswith(PROTOCOL_HEADER) else Verdict.NO

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        exchange = transaction.request
        assert isinstance(exchange, Exchange)
        answer = f" -> {exchange.response.method}" if exchange.response is not None else ""
        return f"{exchange.method}{answer}"
