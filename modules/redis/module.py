"""The `redis` protocol module: RESP2/RESP3 over TCP, Packetbeat's `redis` events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import Counter, noting_counter
from packetshipper.message_queue import MessageQueue
from packetshipper.protocol import Connection, Direction, ProtocolModule, Transaction, Verdict
from packetshipper.settings import Setting, Spec, configured

from .correlator import RedisCorrelator, RedisTransaction
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .probe import probe as probe_first_bytes
from .resp import Limits, RespParser

__all__ = ["RedisModule"]

SETTINGS: Spec = {
    "queue_max_bytes": Setting(s.at_least(0, s.size), 1024 * 1024,
                               "bytes of commands kept per connection awaiting a reply (0: no limit); "
                               "beyond it the oldest is published unanswered"),
    "queue_max_messages": Setting(s.at_least(0), 20000,
                                  "commands kept per connection awaiting a reply (0: no limit); beyond it "
                                  "the oldest is published unanswered"),
    "max_message_size": Setting(s.at_least(16, s.size), 10 * 1024 * 1024,
                                "longest rendering kept of one command or reply, in bytes; the rest is "
                                "read and counted (redis.messages_truncated), not kept"),
    "max_line_length": Setting(s.at_least(16, s.size), 64 * 1024,
                               "longest RESP line or inline command; a longer one is a protocol error"),
    "include_pushes": Setting(s.boolean, False,
                              "publish pub/sub messages and other server pushes as events (redis.push)"),
}


class RedisModule(ProtocolModule):
    name: ClassVar[str] = "redis"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (6379,)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 90

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)

        get = configured(SETTINGS, config)

        self._limits = Limits(max_message_size=int(get("max_message_size")),
                              max_line_length=int(get("max_line_length")))
        self._queue_messages = int(get("queue_max_messages"))
        self._queue_bytes = int(get("queue_max_bytes"))
        self._include_pushes = bool(get("include_pushes"))
        self._send_request = bool(config.get("send_request", False))
        self._send_response = bool(config.get("send_response", False))

    def stream_parser(self, direction: Direction, connection: Connection) -> RespParser:
        return RespParser(self._limits, request=direction == Direction.REQUEST,
                          count=self._counter(connection, direction))

    def correlator(self, connection: Connection) -> RedisCorrelator:
        return RedisCorrelator(connection, MessageQueue(self._queue_messages, self._queue_bytes),
                               self.transaction_timeout, self._counter(connection, None),
                               include_pushes=self._include_pushes)

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d redis` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        assert isinstance(transaction, RedisTransaction)
        return event_fields(transaction, send_request=self._send_request, send_response=self._send_response)
