"""Debug lines for `-d <selector>`: free when the selector is off, rate-limited when it is on.

Each selector (`http`, `dns`, `icmp`, `tcp`, `udp`, `flows`, `publisher`, ...) has one shared
`DebugLog`, whose `enabled` flag `configure` sets from the logging set-up: `-d` / `logging.selectors`
name it, or `*` does, or `logging.level: debug` names no selector (Beats: all of them). Code on a hot
path tests `if DEBUG.enabled:` (one attribute read) before it builds any text, so with debugging off a
debug line costs nothing; a connection may capture the flag when it is set up.

When on, a selector writes at most `logging.debug_rate_limit` lines a second (0: no limit). Lines over
that are counted, and one line says how many were left out: when the selector's next second begins,
at the next `flush_due` (the dispatcher's clock tick) or at exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from .event import host_port

if TYPE_CHECKING:
    from .protocol import Connection

__all__ = [
    "Counter",
    "DEFAULT_RATE_LIMIT",
    "DebugLog",
    "PUBLISHER",
    "batch_done",
    "configure",
    "debug_log",
    "endpoints",
    "flush_all",
    "flush_due",
    "noting_counter",
]

DEFAULT_RATE_LIMIT = 100  # lines per selector per second
WINDOW = 1.0  # seconds


class DebugLog:
    """The debug lines of one selector, written to the `packetshipper.<selector>` logger."""

    __slots__ = ("selector", "enabled", "limit", "_logger", "_prefix", "_clock", "_lock", "_window_start",
                 "_written", "_suppressed")

    def __init__(self, selector: str, *, limit: int = DEFAULT_RATE_LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.selector = selector
        self.enabled = False
        self.limit = limit
        self._logger = logging.getLogger(f"packetshipper.{selector}")
        self._prefix = f"{selector}: "
        self._clock = clock
        self._lock = threading.Lock()  # the publisher's lines come from the output thread
        self._window_start = float("-inf")
        self._written = 0
        self._suppressed = 0

    def __call__(self, fmt: str, *args: object) -> None:
        """Write one line (`%`-style, formatted only if written), if on and within the rate limit."""
        if self.enabled and self.admit():
            self._logger.debug(self._prefix + fmt, *args)

    def admit(self) -> bool:
        """Count one line against the limit: True if it may be written (then call `write`)."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= WINDOW:
                self._summarise()
                self._window_start = now
                self._written = 0
            if self.limit and self._written >= self.limit:
                self._suppressed += 1
                return False
            self._written += 1
            return True

    def write(self, fmt: str, *args: object) -> None:
        """Write a line `admit` allowed: for lines whose arguments are costly to build."""
        self._logger.debug(self._prefix + fmt, *args)

    @property
    def suppressed(self) -> int:
        """Lines counted but not yet reported as suppressed."""
        return self._suppressed

    def flush(self, *, only_due: bool = False) -> None:
        """Report suppressed lines now (or, with `only_due`, if the current second is over)."""
        with self._lock:
            if only_due and self._clock() - self._window_start < WINDOW:
                return
            self._summarise()

    def _summarise(self) -> None:
        if self._suppressed:
            count, self._suppressed = self._suppressed, 0
            self._logger.debug("%ssuppressed %d debug lines (over logging.debug_rate_limit: %d a second)",
                               self._prefix, count, self.limit)


_logs: dict[str, DebugLog] = {}
_selectors: frozenset[str] = frozenset()
_all = False
_limit = DEFAULT_RATE_LIMIT
_any_enabled = False


def debug_log(selector: str) -> DebugLog:
    """The shared `DebugLog` of `selector` (created on first use, configured as the others are)."""
    log = _logs.get(selector)
    if log is None:
        log = _logs[selector] = DebugLog(selector)
        _apply(log)
    return log


def configure(selectors: Iterable[str], *, level_is_debug: bool, rate_limit: int | None = None) -> None:
    """Turn selectors on or off, as the logging set-up decided. Reports what earlier set-up suppressed."""
    global _selectors, _all, _limit, _any_enabled
    flush_all()
    _selectors = frozenset(selectors)
    _all = "*" in _selectors or (level_is_debug and not _selectors)
    _limit = DEFAULT_RATE_LIMIT if rate_limit is None else max(0, int(rate_limit))
    _any_enabled = False
    for log in _logs.values():
        _apply(log)


def _apply(log: DebugLog) -> None:
    global _any_enabled
    log.enabled = _all or log.selector in _selectors
    log.limit = _limit
    _any_enabled = _any_enabled or log.enabled


def flush_due() -> None:
    """Report the suppressed counts of selectors whose second is over (called about once a second)."""
    if _any_enabled:
        for log in list(_logs.values()):
            if log._suppressed:
                log.flush(only_due=True)


def flush_all() -> None:
    """Report every suppressed count now (end of run, exit, reconfiguration)."""
    for log in list(_logs.values()):
        if log._suppressed:
            log.flush()


atexit.register(flush_all)


def endpoints(connection: Connection, *, arrow: str = "->") -> str:
    """`tcp 10.0.0.1:51000 -> 10.0.0.2:80` (client first); ICMP without ports."""
    client, server = connection.client, connection.server
    if connection.transport == "icmp":
        return f"icmp {client.ip} {arrow} {server.ip}"
    return f"{connection.transport} {host_port(client.ip, client.port)} {arrow} {host_port(server.ip, server.port)}"


class Counter(Protocol):
    """`ProtocolModule.count`'s shape."""

    def __call__(self, name: str, n: int = 1) -> None: ...


def noting_counter(count: Counter, debug: DebugLog, connection: Connection, reasons: Mapping[str, str], *,
                   arrow: str = "->") -> Counter:
    """`count(name, n)` that also writes a debug line naming the connection and `reasons[name]`.

    A module hands this to a connection's parsers instead of its plain counter when `debug` is on at
    set-up, so its counted anomalies say where they happened. An empty reason keeps a counter quiet.
    """
    where = endpoints(connection, arrow=arrow)

    def counted(name: str, n: int = 1) -> None:
        count(name, n)
        why = reasons.get(name, name)
        if why:
            debug("%s: %s (%s +%d)", where, why, name, n)

    return counted


PUBLISHER = debug_log("publisher")


def batch_done(output: str, size: int, retry: int, dead: int, duplicates: int, started: float) -> None:
    """`-d publisher`: one line per delivery attempt that got an answer (`started`: `time.monotonic()`)."""
    if PUBLISHER.enabled:
        PUBLISHER("batch of %d events to %s answered in %.1f ms: %d acked (%d duplicates), %d to retry, "
                  "%d dead-lettered", size, output, (time.monotonic() - started) * 1000.0, size - retry - dead,
                  duplicates, retry, dead)
