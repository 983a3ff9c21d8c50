"""The `smtp` protocol module: SMTP sessions (RFC 5321) over TCP, one event per mail transaction."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import Counter, noting_counter
from packetshipper.protocol import Connection, Direction, ProtocolModule, StreamParser, Transaction, Verdict
from packetshipper.settings import Setting, Spec

from .correlator import CorrelatorLimits, SmtpCorrelator
from .debug import DEBUG, REASONS, describe
from .event import event_fields
from .messages import SessionState
from .parser import ClientParser, Limits, ServerParser
from .probe import probe as probe_first_bytes

__all__ = ["SETTINGS", "SmtpModule"]

SETTINGS: Spec = {
    "max_line_length": Setting(s.at_least(64, s.size), 4096,
                               "longest command or reply line; a longer one is a protocol error (RFC 5321 "
                               "allows 512)"),
    "max_header_size": Setting(s.at_least(256, s.size), 64 * 1024,
                               "bytes of a message's header section read for Subject, From, To, Cc, Date and "
                               "Message-ID; the message itself is counted, never kept"),
    "max_reply_lines": Setting(s.at_least(1), 100, "lines kept of one multi-line reply (the rest are counted)"),
    "max_pending": Setting(s.at_least(1), 1000,
                           "pipelined commands kept per connection awaiting a reply; beyond it the oldest is "
                           "forgotten (counted)"),
    "max_recipients": Setting(s.at_least(1), 1000, "recipients listed per mail transaction (the rest are counted)"),
    "max_commands": Setting(s.at_least(1), 100, "commands listed per event in smtp.commands"),
    "max_message_size": Setting(s.at_least(0, s.size), 50 * 1024 * 1024,
                                "messages larger than this are still followed to their end, and noted and "
                                "counted (smtp messages_over_max_message_size); 0: no limit"),
}


class SmtpModule(ProtocolModule):
    name: ClassVar[str] = "smtp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (25, 587)
    settings: ClassVar[Spec] = SETTINGS
    probe_order: ClassVar[int] = 70

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)

        def get(key: str) -> int:
            value = config.get(key)
            if value is None:
                entry = SETTINGS[key]
                assert isinstance(entry, Setting)
                return int(entry.default)
            return int(value)

        self._limits = Limits(max_line_length=get("max_line_length"), max_header_size=get("max_header_size"),
                              max_reply_lines=get("max_reply_lines"))
        self._correlator_limits = CorrelatorLimits(max_pending=get("max_pending"),
                                                   max_recipients=get("max_recipients"),
                                                   max_commands=get("max_commands"),
                                                   max_message_size=get("max_message_size"))
        self._send_request = bool(config.get("send_request", False))
        self._send_response = bool(config.get("send_response", False))
        # One shared state per connection, held by its parsers and correlator and gone with them.
        self._states: dict[Connection, weakref.ref[SessionState]] = {}

    def _state(self, connection: Connection) -> SessionState:
        ref = self._states.get(connection)
        state = ref() if ref is not None else None
        if state is None:
            state = SessionState()
            self._states[connection] = weakref.ref(state, functools.partial(_forget, self._states, connection))
        return state

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        count = self._counter(connection, direction)
        if direction == Direction.REQUEST:
            return ClientParser(self._limits, self._state(connection), count)
        return ServerParser(self._limits, self._state(connection), count)

    def correlator(self, connection: Connection) -> SmtpCorrelator:
        return SmtpCorrelator(connection, self._state(connection), self._correlator_limits, self.transaction_timeout,
                              self._counter(connection, None))

    def _counter(self, connection: Connection, direction: Direction | None) -> Counter:
        """The module's counter; with `-d smtp` on when the connection starts, one that also says where."""
        if not DEBUG.enabled:
            return self.count
        arrow = "<-" if direction == Direction.RESPONSE else "->"
        return noting_counter(self.count, DEBUG, connection, REASONS, arrow=arrow)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return event_fields(transaction, send_request=self._send_request, send_response=self._send_response)


def _forget(states: dict[Connection, weakref.ref[SessionState]], connection: Connection,
            dead: weakref.ref[SessionState]) -> None:
    if states.get(connection) is dead:
        del states[connection]
