"""The `http` protocol module: HTTP/1.x over TCP, Packetbeat's `http` events."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, Transaction, Verdict
from packetshipper.settings import Spec

from .correlator import HttpCorrelator
from .debug import DEBUG, REASONS, describe
from .event import EventBuilder, host_facts
from .exchange import ExchangeLog
from .parser import HttpStreamParser
from .probe import probe as probe_first_bytes
from .settings import SETTINGS, HttpConfig


class HttpModule(ProtocolModule):
    name: ClassVar[str] = "http"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (80, 8080, 8000, 5000, 8002)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 60

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.http_config = HttpConfig.from_mapping(config)
        self._host_facts = functools.lru_cache(maxsize=self.http_config.host_cache_size)(host_facts)
        self._events = EventBuilder(self.http_config, self._host_facts)
        # One exchange log per connection, shared by its two parsers and gone with them. (What a
        # WeakValueDictionary does, with its per-call Python layers left out: this runs per parser.)
        # Keyed by connection id, which is cheap to hash where a Connection is not; the connection is kept
        # beside its log and one that shares another's id (hand-made ones all have 0) is keyed by itself.
        self._exchanges: dict[int | Connection, tuple[Connection, weakref.ref[ExchangeLog]]] = {}

    def stream_parser(self, direction: Direction, connection: Connection) -> HttpStreamParser:
        key: int | Connection = connection.connection_id
        entry = self._exchanges.get(key)
        if entry is not None and entry[0] is not connection and entry[0] != connection:
            key = connection
            entry = self._exchanges.get(key)
        exchange = entry[1]() if entry is not None else None
        count = self._counter(connection, direction)
        if exchange is None:
            exchange = ExchangeLog(self.http_config.max_pending_requests, count)
            ref = weakref.ref(exchange, functools.partial(_forget, self._exchanges, key))
            self._exchanges[key] = (connection, ref)
        return HttpStreamParser(self.http_config, exchange, count)

    def correlator(self, connection: Connection) -> HttpCorrelator:
        config = self.http_config
        return HttpCorrelator(connection, config.max_pending_requests, self.transaction_timeout,
                              self._counter(connection, None), self._host_facts)

    def gauges(self) -> dict[str, int]:
        cache = self._host_facts.cache_info()
        return {"host_cache_evicted": cache.misses - cache.currsize}

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d http` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return self._events.fields(transaction)


def _forget(exchanges: dict[int | Connection, tuple[Connection, weakref.ref[ExchangeLog]]], key: int | Connection,
            dead: weakref.ref[ExchangeLog]) -> None:
    """A connection's exchange log died: drop its entry, unless a newer log already took the key."""
    entry = exchanges.get(key)
    if entry is not None and entry[1] is dead:
        del exchanges[key]
