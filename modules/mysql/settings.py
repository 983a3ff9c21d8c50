"""The `mysql` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults where it has them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

from .wire import Command

__all__ = ["SETTINGS", "MysqlConfig", "CONNECT", "DEFAULT_COMMANDS"]

CONNECT = "CONNECT"  # the connection phase, as a name in `commands`
ALL = "*"
# Packetbeat publishes queries and prepared statements; USE (COM_INIT_DB) is added because it says
# which database later queries run in. Pings and quits are left out: a pool pings all the time.
DEFAULT_COMMANDS = ["QUERY", "INIT_DB", "STMT_PREPARE", "STMT_EXECUTE"]
_KNOWN = frozenset(c.name for c in Command) | {CONNECT, ALL}


def _command_names(value: Any) -> list[str]:
    names = [name.upper().removeprefix("COM_") for name in s.string_list(value)]
    unknown = [name for name in names if name not in _KNOWN]
    if unknown:
        raise ValueError(f"unknown command {s.quote(unknown[0])} (known: *, CONNECT, "
                         + ", ".join(c.name for c in Command) + ")")
    return names


SETTINGS: Spec = {
    "max_rows": Setting(s.at_least(0), 10, "rows of a result set kept in `response`"),
    "max_row_length": Setting(s.at_least(0), 1024, "bytes of one row kept in `response`"),
    "statement_timeout": Setting(s.duration, 3600.0, "how long a prepared statement is remembered"),
    "max_statements": Setting(s.at_least(0), 1024,
                              "prepared statements remembered per connection (mysql.statements_over_limit)"),
    "max_message_size": Setting(s.at_least(64, s.size), 10 * 1024 * 1024,
                                "bytes of one MySQL packet kept (the rest is skipped; mysql.truncated_packets)"),
    "max_pending_requests": Setting(s.at_least(1), 100, "commands per connection awaiting their response "
                                    "(mysql.pending_requests_overflow)"),
    "commands": Setting(_command_names, DEFAULT_COMMANDS,
                        "commands published as events (`*`: all; CONNECT: the login; a failed login always is)"),
}


@dataclass(frozen=True, slots=True)
class MysqlConfig:
    max_rows: int
    max_row_length: int
    statement_timeout: float
    max_statements: int
    max_message_size: int
    max_pending_requests: int
    commands: frozenset[str]
    send_request: bool
    send_response: bool

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> MysqlConfig:
        get = configured(SETTINGS, config)

        commands = frozenset(_command_names(get("commands")))
        if ALL in commands:
            commands = frozenset(_KNOWN - {ALL})
        return cls(
            max_rows=int(get("max_rows")),
            max_row_length=int(get("max_row_length")),
            statement_timeout=float(get("statement_timeout")),
            max_statements=int(get("max_statements")),
            max_message_size=int(get("max_message_size")),
            max_pending_requests=int(get("max_pending_requests")),
            commands=commands,
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
        )

    def publishes(self, name: str) -> bool:
        return name in self.commands
