"""DHCPv4 events are one per message (as Packetbeat's): each message is its own transaction."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Connection, Correlator, Direction, Transaction

from .messages import DhcpMessage

__all__ = ["Dhcpv4Correlator"]


class Dhcpv4Correlator(Correlator):
    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if not isinstance(message, DhcpMessage):
            raise TypeError(f"not a DHCPv4 message: {type(message).__name__}")
        return [Transaction(connection=self._connection, request=message, response=None, start=message.ts,
                            end=message.ts, request_bytes=message.size, notes=message.notes)]
