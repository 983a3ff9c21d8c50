"""What the capture side sees of the publisher pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["Publisher"]


class Publisher(ABC):
    """Takes finished events from the capture loop and gets them to the output, at least once."""

    @abstractmethod
    def publish(self, event: dict[str, Any]) -> bool:
        """Queue one event. False if it was dropped (queue full in drop mode); it is counted then."""

    @abstractmethod
    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, deliver what is queued (up to `timeout` seconds), release resources."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counters for /stats: queue and output sections."""
