"""One registry of counters: each component registers a snapshot function under its section name.

Hot paths keep plain integer attributes and never call into here; `/stats` and the periodic metrics
log line ask every registered component for a snapshot when they need one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Metrics"]

Snapshot = Callable[[], dict[str, Any]]


class Metrics:
    def __init__(self) -> None:
        self._sections: dict[str, Snapshot] = {}

    def register(self, section: str, snapshot: Snapshot) -> None:
        self._sections[section] = snapshot

    def unregister(self, section: str) -> None:
        self._sections.pop(section, None)

    def snapshot(self) -> dict[str, Any]:
        return {name: snap() for name, snap in self._sections.items()}
