"""What the capture side sees of the publisher pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Publisher"]


class Publisher(ABC):
    """Takes finished events from the capture loop and gets them to the output, at least once."""

    @abstractmethod
    def publish(self, event: dict[str, Any]) -> bool:
        """Queue one event. False if it was dropped (queue full in drop mode); it is counted then."""

    @abstractmethod
    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, deliver what is queued (up to `timeout` seconds, and never past the
        deadline given to `shutdown_by`), release resources."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counters for /stats: queue and output sections."""

    def shutdown_by(self, deadline: float) -> None:  # noqa: B027 - optional: nothing to bound by default
        """A stop was requested: from now on nothing waits on the output past `deadline`
        (time.monotonic()): a `publish` into a full queue gives up, and so does `close`. Thread-safe."""

    def unsent(self) -> tuple[int, str]:
        """Events accepted but not (yet) delivered, and one phrase saying what becomes of them."""
        return 0, "nothing queued"

    def document_sink(self, fields: frozenset[str]) -> Callable[[bytes, Mapping[str, Any]], bool] | None:
        """A way in for events their maker encodes itself (the compiled flow events): a function that
        queues one event given as its JSON document (no `@metadata`) and the values of `fields` (dotted
        paths) the maker can give, as `publish` would have queued it. None when this publisher must see
        each event as a dict: to validate it, stamp an id on it, or route by fields the maker cannot give."""
        return None
