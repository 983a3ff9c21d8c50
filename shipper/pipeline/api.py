"""What the capture side sees of the publisher pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
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

    def document_sink(self, fields: frozenset[str]) -> Callable[[Sequence[bytes], Mapping[str, Any]], int] | None:
        """A way in for events their maker encodes itself (the compiled flow events): a function that
        queues events given as their JSON documents (no `@metadata`) with the values of `fields` (dotted
        paths) the maker can give, the same for all of them, as `publish` would have queued each, and says
        how many it queued. None when this publisher must see each event as a dict: to validate it, stamp
        an id on it, or route by fields the maker cannot give."""
        return None
