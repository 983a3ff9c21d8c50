"""The `dhcpv4` protocol module: DHCPv4 over UDP, one Packetbeat `dhcpv4` event per message."""

from __future__ import annotations

from typing import Any, ClassVar

from packetshipper.protocol import Connection, Direction, ProtocolError, ProtocolModule, Transaction, Verdict
from packetshipper.settings import Spec

from .correlator import Dhcpv4Correlator
from .debug import describe
from .event import event_fields
from .probe import probe as probe_first_bytes
from .wire import parse

__all__ = ["Dhcpv4Module"]

SERVER_PORT, CLIENT_PORT = 67, 68


class Dhcpv4Module(ProtocolModule):
    name: ClassVar[str] = "dhcpv4"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    default_ports: ClassVar[tuple[int, ...]] = (SERVER_PORT, CLIENT_PORT)
    settings: ClassVar[Spec] = {}
    probe_order: ClassVar[int] = 20

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        try:
            return [parse(data, ts, from_client=direction == Direction.REQUEST)]
        except ProtocolError:
            self.count("not_dhcp")
            raise

    def correlator(self, connection: Connection) -> Dhcpv4Correlator:
        return Dhcpv4Correlator(connection)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction)
