"""SIP is not one request, one response: Packetbeat publishes every message on its own, and so do we.

Each message becomes a transaction at once (the request or the response slot says which side of the
connection sent it), so nothing waits and no state grows, whatever the traffic.
"""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Connection, Correlator, Direction, Status, Transaction

from .messages import Exchange, SipMessage

__all__ = ["SipCorrelator"]


class SipCorrelator(Correlator):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        assert isinstance(message, SipMessage)
        status = Status.ERROR if message.code >= 400 else Status.OK
        size = len(message.raw)
        exchange = Exchange(message, direction is Direction.REQUEST)
        if exchange.from_client:
            return [Transaction(self.connection, exchange, None, message.ts, message.ts,
                                request_bytes=size, status=status)]
        return [Transaction(self.connection, None, exchange, message.ts, message.ts,
                            response_bytes=size, status=status)]
