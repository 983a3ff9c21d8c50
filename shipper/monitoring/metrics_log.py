"""The periodic metrics log line: every counter that changed since the last line, with its change."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["flatten", "MetricsLogger", "changed_metrics"]

log = logging.getLogger("packetshipper.monitoring")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested snapshot under dotted keys; booleans and text are left out."""
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = value
    return out


def changed_metrics(previous: Mapping[str, float], current: Mapping[str, float]) -> str:
    """`key=total(+delta)` for each value that changed, in key order; "" if none did."""
    parts = []
    for key in sorted(current):
        value = current[key]
        delta = value - previous.get(key, 0)
        if delta:
            parts.append(f"{key}={_number(value)}({'+' if delta > 0 else ''}{_number(delta)})")
    return " ".join(parts)


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


class MetricsLogger:
    """Logs `changed_metrics` every `period` seconds from a daemon thread, and the totals at stop."""

    def __init__(self, snapshot: Callable[[], Mapping[str, Any]], period: float,
                 logger: logging.Logger = log) -> None:
        self._snapshot = snapshot
        self._period = period
        self._log = logger
        self._previous: dict[str, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and log the non-zero totals, as Beats does at shutdown."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            current = flatten(self._snapshot())
        except Exception:
            self._log.exception("collecting metrics failed")
            return
        totals = " ".join(f"{key}={_number(value)}" for key, value in sorted(current.items()) if value)
        if totals:
            self._log.info("Total metrics: %s", totals)

    def log_once(self) -> str:
        try:
            current = flatten(self._snapshot())
        except Exception:
            self._log.exception("collecting metrics failed")
            return ""
        line = changed_metrics(self._previous, current)
        self._previous = current
        if line:
            self._log.info("Non-zero metrics in the last %gs: %s", self._period, line)
        return line

    def _run(self) -> None:
        while not self._stopping.wait(self._period):
            self.log_once()
