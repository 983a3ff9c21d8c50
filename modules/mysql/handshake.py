"""The connection phase of one connection: greeting, login request, the auth exchange, and what the
two sides negotiated (EOF dialect, MariaDB's metadata cache, query attributes, compression)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .messages import MysqlPacket, MysqlRequest, MysqlResponse
from .packets import Greeting, parse_err, parse_greeting, parse_login
from .response import Dialect
from .settings import CONNECT
from .wire import Capability

__all__ = ["Login", "Negotiated", "refused"]


@record
class Negotiated:
    dialect: Dialect
    cache_metadata: bool
    query_attributes: bool | None  # None: the client's capabilities were not seen
    compressed: bool


def _request(ts: float, user: str = "", database: str = "") -> MysqlRequest:
    query = f"LOGIN {user}".rstrip()
    return MysqlRequest(ts=ts, command=-1, command_name=CONNECT, method="LOGIN", query=query, size=0, raw=query,
                        path=database, user=user, database=database)


@dataclass(slots=True)
class Login:
    """A login in progress, from the greeting (when seen) to the server's OK or ERR."""

    ts: float
    greeting: Greeting | None
    request: MysqlRequest | None = None
    capabilities: int = 0
    extended: int = 0
    server_bytes: int = 0
    client_bytes: int = 0
    response_ts: float | None = None

    @classmethod
    def from_greeting(cls, packet: MysqlPacket, count: Callable[[str], None]) -> Login:
        try:
            greeting: Greeting | None = parse_greeting(packet.payload)
        except ProtocolError:
            count("malformed_greetings")
            greeting = None
        return cls(packet.ts, greeting, server_bytes=packet.wire_size)

    def take_request(self, packet: MysqlPacket, count: Callable[[str], None]) -> None:
        """The client's handshake response: who logs in, to which database, with what capabilities."""
        self.client_bytes += packet.wire_size
        try:
            parsed = parse_login(packet.payload)
        except ProtocolError:
            count("malformed_logins")
            self.request = _request(packet.ts)
            return
        self.capabilities, self.extended = parsed.capabilities, parsed.extended_capabilities
        self.request = _request(packet.ts, parsed.user, parsed.database)

    def answer(self, packet: MysqlPacket) -> None:
        self.server_bytes += packet.wire_size
        if self.response_ts is None:
            self.response_ts = packet.ts

    def whole_request(self) -> MysqlRequest:
        """The login as one request: from the greeting on, every client byte of the exchange."""
        assert self.request is not None
        return dataclasses.replace(self.request, ts=self.ts, size=self.client_bytes)

    def response(self, err_payload: bytes | None = None) -> MysqlResponse:
        """The server's side of the exchange, failed when `err_payload` (its ERR) is given."""
        extra: dict[str, Any] = {}
        if err_payload is not None:
            err = parse_err(err_payload)
            extra = {"is_error": True, "error_code": err.code, "error_message": err.message}
        greeting = self.greeting
        return MysqlResponse(ts=self.response_ts if self.response_ts is not None else self.ts,
                             size=self.server_bytes,
                             server_version=greeting.server_version if greeting is not None else "",
                             auth_plugin=greeting.auth_plugin if greeting is not None else "", **extra)

    def negotiated(self) -> Negotiated:
        client = self.capabilities
        server = self.greeting.capabilities if self.greeting is not None else client
        both = client & server
        if not client:
            return Negotiated(Dialect.UNKNOWN, False, None, False)
        cache = self.greeting is not None and bool(
            self.greeting.extended_capabilities & self.extended & Capability.MARIADB_CACHE_METADATA)
        return Negotiated(Dialect.DEPRECATE_EOF if both & Capability.DEPRECATE_EOF else Dialect.CLASSIC_EOF,
                          cache, bool(both & Capability.QUERY_ATTRIBUTES), bool(both & Capability.COMPRESS))


def refused(packet: MysqlPacket) -> tuple[MysqlRequest, MysqlResponse]:
    """An ERR in place of the greeting: the server turned the connection away (too many, blocked host)."""
    err = parse_err(packet.payload)
    return _request(packet.ts), MysqlResponse(ts=packet.ts, size=packet.wire_size, is_error=True,
                                              error_code=err.code, error_message=err.message)
