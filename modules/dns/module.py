"""The DNS protocol module: settings, factories for the core, and event fields."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import (
    Connection,
    Correlator,
    Direction,
    ProtocolModule,
    StreamParser,
    Transaction,
)
from packetshipper.settings import Setting, Spec

from .correlator import DnsCorrelator
from .debug import DEBUG, REASONS, describe
from .event import EventOptions, dns_event_fields
from .parser import DnsStreamParser, note_anomalies, parse_message
from .suffix import DEFAULT_LIST_PATH, load_suffix_list

__all__ = ["DnsModule"]

log = logging.getLogger(__name__)

MAX_DNS_MESSAGE = 65535  # the TCP length prefix is 16 bits


def _message_size(value: Any) -> int:
    size = s.at_least(12)(value)
    if size > MAX_DNS_MESSAGE:
        raise ValueError(f"must be at most {MAX_DNS_MESSAGE}, got {value!r}")
    return int(size)


class DnsModule(ProtocolModule):
    name: ClassVar[str] = "dns"
    transports: ClassVar[frozenset[str]] = frozenset({"udp", "tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (53,)
    settings: ClassVar[Spec] = {
        "include_authorities": Setting(s.boolean, False, "add the authority section as `dns.authorities`"),
        "include_additionals": Setting(s.boolean, False, "add the additional section as `dns.additionals`"),
        "max_message_size": Setting(
            _message_size, MAX_DNS_MESSAGE, "longest DNS message accepted over TCP, in bytes (12 to 65535)"
        ),
        "max_pending_queries": Setting(
            s.at_least(1), 1024, "queries waiting for a response per flow; beyond it the oldest is closed"
        ),
        "public_suffix_list": Setting(
            s.string,
            DEFAULT_LIST_PATH,
            "Public Suffix List file for `dns.question.registered_domain`; empty string turns it off",
        ),
        "suffix_cache_size": Setting(
            s.at_least(0), 4096,
            "question names whose registered domain and public suffix are kept (names recur); past it the least "
            "recently used goes, counted in /stats (protocols.modules.dns.suffix_cache_evicted); 0: none kept",
        ),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.max_message_size = int(config.get("max_message_size", MAX_DNS_MESSAGE))
        self.max_pending_queries = int(config.get("max_pending_queries", 1024))
        suffixes = self._load_suffixes(str(config.get("public_suffix_list", DEFAULT_LIST_PATH) or ""))
        self._split = functools.lru_cache(maxsize=int(config.get("suffix_cache_size", 4096)))(suffixes.split) \
            if suffixes is not None else None
        self.options = EventOptions(
            include_authorities=bool(config.get("include_authorities", False)),
            include_additionals=bool(config.get("include_additionals", False)),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
            suffixes=suffixes,
            split=self._split,
        )

    def _load_suffixes(self, path: str) -> Any:
        if not path:
            return None
        try:
            return load_suffix_list(path)
        except OSError as error:
            self.count("public_suffix_list_unavailable")
            log.warning("dns: cannot read public_suffix_list %s (%s); registered_domain left out", path, error)
            return None

    def gauges(self) -> dict[str, int]:
        if self._split is None:
            return {}
        cache = self._split.cache_info()
        return {"suffix_cache_evicted": cache.misses - cache.currsize}

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return DnsStreamParser(self.max_message_size, self._counter(connection, direction))

    def parse_datagram(
        self, data: bytes, ts: float, direction: Direction, connection: Connection
    ) -> list[Any]:
        message = parse_message(data, ts)
        if message.trailing or message.malformed_records:
            note_anomalies(message, self._counter(connection, direction))
        return [message]

    def _counter(self, connection: Connection, direction: Direction) -> Counter:
        """The module's counter; with `-d dns` on, one that also says where the anomaly was."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def correlator(self, connection: Connection) -> Correlator:
        return DnsCorrelator(connection, self.transaction_timeout, self.max_pending_queries, self.count)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return dns_event_fields(transaction, self.options)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
