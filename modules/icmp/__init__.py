"""ICMP v4 and v6: echo and the other request/reply pairs as transactions, like Packetbeat's icmp."""

from __future__ import annotations

from typing import Any, ClassVar

from packetshipper import settings as _s
from packetshipper.debuglog import noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, Transaction
from packetshipper.settings import Setting, Spec

from .correlator import IcmpCorrelator
from .debug import DEBUG, REASONS, describe
from .event import icmp_event_fields
from .messages import IcmpMessage
from .parser import parse_message

__all__ = ["MODULE", "IcmpModule"]


class IcmpModule(ProtocolModule):
    name: ClassVar[str] = "icmp"
    transports: ClassVar[frozenset[str]] = frozenset({"icmp"})
    default_ports: ClassVar[tuple[int, ...]] = ()
    settings: ClassVar[Spec] = {
        "max_pending_requests": Setting(
            _s.at_least(1), 1024, "requests waiting for a reply per address pair; over this the oldest "
            "is reported unanswered (icmp.pending_over_limit)"),
    }

    def parse_datagram(self, data: bytes, ts: float, direction: Direction,
                       connection: Connection) -> list[Any]:
        return [parse_message(data, connection.ip_version)]

    def correlator(self, connection: Connection) -> IcmpCorrelator:
        # With `-d icmp` on when the address pair is first seen, its counted anomalies also say where.
        count = noting_counter(self.count, DEBUG, connection, REASONS) if DEBUG.enabled else self.count
        return IcmpCorrelator(connection, self.transaction_timeout, self.config["max_pending_requests"], count)

    def event_fields(self, transaction: Transaction[IcmpMessage, IcmpMessage]) -> dict[str, Any]:
        return icmp_event_fields(transaction)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)


MODULE = IcmpModule
