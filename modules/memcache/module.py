"""The `memcache` protocol module: text and binary protocols over TCP and UDP, Packetbeat's events."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import Counter, noting_counter
from packetshipper.message_queue import MessageQueue
from packetshipper.protocol import (
    Connection,
    Correlator,
    Direction,
    ProtocolError,
    ProtocolModule,
    Transaction,
    Verdict,
)
from packetshipper.settings import Setting, Spec, configured

from .builder import ValueLimits
from .correlator import McTcpCorrelator, McUdpCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .messages import UdpFragment
from .parser import McStreamParser
from .probe import probe as probe_first_bytes

__all__ = ["MemcacheModule"]

# Request id, sequence number, total datagrams, reserved (protocol.txt, "UDP protocol").
UDP_HEADER = struct.Struct(">HHHH")

SETTINGS: Spec = {
    "maxvalues": Setting(s.at_least(-1), 0, "values kept per message in memcache.*.values (0: none, -1: all)"),
    "maxbytespervalue": Setting(s.at_least(0, s.size), 0, "bytes kept of each kept value (0: all of it)"),
    "parseunknown": Setting(s.boolean, False, "publish unknown text commands (memcache.request.line) instead "
                                              "of dropping the stream"),
    "udptransactiontimeout": Setting(s.duration, 10.0, "how long a UDP request waits for its reply"),
    "queue_max_messages": Setting(s.at_least(0), 20000, "requests kept per connection or UDP flow awaiting a "
                                                        "reply (0: no limit); beyond it the oldest is published "
                                                        "unanswered"),
    "queue_max_bytes": Setting(s.at_least(0, s.size), 1024 * 1024, "bytes of keys and values of requests kept "
                                                                    "per connection awaiting a reply (0: no limit)"),
    "max_message_size": Setting(s.at_least(64, s.size), 10 * 1024 * 1024,
                                "bytes of keys, stats and values kept of one message (a UDP message is "
                                "reassembled up to this size); the rest is counted, not kept"),
    "max_line_length": Setting(s.at_least(16, s.size), 64 * 1024,
                               "longest text command or reply line; a longer one is a protocol error"),
}


class MemcacheModule(ProtocolModule):
    name: ClassVar[str] = "memcache"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    default_ports: ClassVar[tuple[int, ...]] = (11211,)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 80

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction, transport)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)

        get = configured(SETTINGS, config)

        self._limits = ValueLimits(max_values=int(get("maxvalues")), max_bytes_per_value=int(get("maxbytespervalue")),
                                   max_message_size=int(get("max_message_size")),
                                   max_line_length=int(get("max_line_length")))
        self._parse_unknown = bool(get("parseunknown"))
        self._udp_timeout = float(get("udptransactiontimeout"))
        self._queue_messages = int(get("queue_max_messages"))
        self._queue_bytes = int(get("queue_max_bytes"))

    def stream_parser(self, direction: Direction, connection: Connection) -> McStreamParser:
        return McStreamParser(self._limits, request=direction == Direction.REQUEST,
                              parse_unknown=self._parse_unknown, count=self._counter(connection, direction))

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        if len(data) < UDP_HEADER.size:
            raise ProtocolError("datagram shorter than the 8-byte memcache UDP frame header")
        request_id, sequence, total, _ = UDP_HEADER.unpack_from(data)
        if total == 0 or sequence >= total:
            raise ProtocolError(f"UDP frame header: datagram {sequence} of {total}")
        # The correlator of the flow reassembles and parses: a reply may span datagrams and messages.
        return [UdpFragment(ts, request_id, sequence, total, data[UDP_HEADER.size:])]

    def correlator(self, connection: Connection) -> Correlator:
        count = self._counter(connection, None)
        if connection.transport == "udp":
            def new_parser(direction: Direction) -> McStreamParser:
                return self.stream_parser(direction, connection)

            return McUdpCorrelator(connection, new_parser, self._udp_timeout, self._queue_messages,
                                   self._limits.max_message_size, count)
        return McTcpCorrelator(connection, MessageQueue(self._queue_messages, self._queue_bytes),
                               self.transaction_timeout, count)

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d memcache` on when the flow starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction)
