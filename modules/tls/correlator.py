"""One TLS connection's handshake, gathered from both directions into one transaction.

The transaction is published when both directions have turned encrypted (the handshake ended), or
when the connection closes first (status Error: not established). A connection that showed nothing
but encrypted records (picked up mid-stream) publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packetshipper.protocol import Connection, Correlator, Direction, Status, Transaction
from packetshipper.records import record

from .messages import Alert, Certificates, Closed, Encrypted, HandshakeFlag, Hello, HelloKind, Marker

__all__ = ["TlsCorrelator", "TlsHandshake", "MAX_ALERTS"]

MAX_ALERTS = 16  # per direction; more are counted (alerts_dropped), not kept


@record
class TlsHandshake:
    """What one connection's handshake showed, by role (client = the side that sent ClientHello)."""

    client_hello: Hello | None
    server_hello: Hello | None
    client_certificates: tuple[bytes, ...]
    server_certificates: tuple[bytes, ...]
    certificate_requested: bool
    key_exchanged: bool  # either side sent a key exchange message: a full handshake
    client_alerts: tuple[Alert, ...]
    server_alerts: tuple[Alert, ...]
    established: bool


@dataclass(slots=True)
class _Side:
    hello: Hello | None = None
    certificates: tuple[bytes, ...] = ()
    certificate_requested: bool = False
    key_exchanged: bool = False
    alerts: list[Alert] = field(default_factory=list)
    encrypted: bool = False
    seen: bool = False  # anything but encrypted records
    offset: int = 0


class TlsCorrelator(Correlator):
    def __init__(self, connection: Connection, count: Callable[[str], None]) -> None:
        self.connection = connection
        self._count = count
        self._sides = (_Side(), _Side())
        self._start: float | None = None
        self._sent = False

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if self._sent:
            return []
        if isinstance(message, Closed):
            return self._finish(None)
        side = self._sides[direction]
        started = getattr(message, "started", ts)
        if self._start is None or started < self._start:
            self._start = started
        side.offset = max(side.offset, getattr(message, "offset", 0))
        if isinstance(message, Encrypted):
            side.encrypted = True
            other = self._sides[1 - direction]
            if other.encrypted:
                return self._finish(message.ts)
            return []
        side.seen = True
        if isinstance(message, Hello):
            side.hello = message
        elif isinstance(message, Certificates):
            if not side.certificates:
                side.certificates = message.ders
        elif isinstance(message, HandshakeFlag):
            if message.marker is Marker.CERTIFICATE_REQUEST:
                side.certificate_requested = True
            elif message.marker is not Marker.HELLO_REQUEST:
                side.key_exchanged = True
        elif isinstance(message, Alert):
            if len(side.alerts) < MAX_ALERTS:
                side.alerts.append(message)
            else:
                self._count("alerts_dropped")
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        if self._sent:
            return []
        return self._finish(None)

    def _roles(self) -> tuple[_Side, _Side, bool]:
        """(client side, server side, swapped): the side that sent ClientHello is the client."""
        first, second = self._sides
        if (first.hello is not None and first.hello.kind is HelloKind.SERVER) or (
                second.hello is not None and second.hello.kind is HelloKind.CLIENT):
            return second, first, True
        return first, second, False

    def _finish(self, end: float | None) -> list[Transaction[Any, Any]]:
        self._sent = True
        client, server, _ = self._roles()
        if not (client.seen or server.seen):
            return []
        established = end is not None
        self._count("established" if established else "not_established")
        handshake = TlsHandshake(
            client_hello=client.hello if client.hello and client.hello.kind is HelloKind.CLIENT else None,
            server_hello=server.hello if server.hello and server.hello.kind is HelloKind.SERVER else None,
            client_certificates=client.certificates,
            server_certificates=server.certificates,
            certificate_requested=server.certificate_requested,
            key_exchanged=client.key_exchanged or server.key_exchanged,
            client_alerts=tuple(client.alerts),
            server_alerts=tuple(server.alerts),
            established=established,
        )
        start = self._start if self._start is not None else (end or 0.0)
        request_side, response_side = self._sides
        return [Transaction(
            connection=self.connection,
            request=handshake,
            response=handshake.server_hello,
            start=start,
            end=end if end is not None else start,
            request_bytes=request_side.offset,
            response_bytes=response_side.offset,
            status=Status.OK if established else Status.ERROR,
        )]
