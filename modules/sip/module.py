"""The SIP protocol module: settings, factories for the core, and event fields."""

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

from .correlator import SipCorrelator
from .debug import describe
from .event import EventOptions, sip_event_fields
from .parser import SipStreamParser, parse_datagram
from .probe import probe as probe_first_bytes

__all__ = ["SipModule"]

_TRANSPORTS = {"udp": frozenset({"udp"}), "tcp": frozenset({"tcp"}), "both": frozenset({"udp", "tcp"})}


class SipModule(ProtocolModule):
    name: ClassVar[str] = "sip"
    transports: ClassVar[frozenset[str]] = frozenset({"udp", "tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (5060,)
    settings: ClassVar[Spec] = {
        "transport": Setting(s.one_of("udp", "tcp", "both"), "udp",
                             "which transport carries SIP on these ports: udp (Packetbeat's default), tcp, or both"),
        "parse_authorization": Setting(s.boolean, True, "parse the Authorization header into `sip.auth.*`"),
        "parse_body": Setting(s.boolean, True, "parse an SDP body into `sip.sdp.*`"),
        "keep_original": Setting(s.boolean, True, "keep the whole message in `event.original`"),
        "max_message_size": Setting(s.at_least(64), 1 << 20,
                                    "largest SIP message kept over TCP (headers and body), in bytes"),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        # The core reads `transports` on the instance: only the configured transport is dissected.
        setattr(self, "transports", _TRANSPORTS[str(config.get("transport", "udp"))])  # noqa: B010
        self.max_message_size = int(config.get("max_message_size", 1 << 20))
        self.options = EventOptions(
            parse_authorization=bool(config.get("parse_authorization", True)),
            parse_body=bool(config.get("parse_body", True)),
            keep_original=bool(config.get("keep_original", True)),
        )

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return SipStreamParser(self.max_message_size, self.count)

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        message = parse_datagram(data, ts)
        if message is None:
            self.count("keepalives")
            return []
        if message.truncated:
            self.count("truncated_bodies")
        return [message]

    def correlator(self, connection: Connection) -> Correlator:
        return SipCorrelator(connection)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return sip_event_fields(transaction, self.options)

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        if transport not in self.transports:
            return Verdict.NO
        return probe_first_bytes(data, transport)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
