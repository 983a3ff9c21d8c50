"""What the publisher needs from a queue: bounded put, batched get, in-order ack."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Batch", "EventQueue", "DROP_REASONS"]

# Why `put` may refuse an event; each has a counter under `queue.dropped`. `shutdown`: the queue was
# full and a stop signal's deadline (packetshipper.shutdown_timeout) passed while `put` waited for room.
DROP_REASONS = ("full", "closed", "too_large", "encode_error", "write_error", "shutdown")


@dataclass(frozen=True, slots=True)
class Batch:
    """Events handed to the output together (EncodedEvents from the publisher; the queues carry
    whatever they are given); `position` is the queue's private marker for `ack`."""

    events: list[Any]
    position: Any = None


class EventQueue(ABC):
    """A bounded queue with one producer side (capture) and one consumer (the output worker).

    An event stays counted in the queue from `put` until its batch is acknowledged, so a batch the
    output is still retrying keeps holding its place: that is what makes a full queue push back.
    """

    @abstractmethod
    def put(self, event: Any, block: bool) -> bool:
        """Add one event; if full, wait (`block`) or drop it. False means dropped, and it was counted."""

    def put_many(self, events: Sequence[Any], block: bool) -> int:
        """`put` each of `events` in order; how many were queued (the others were counted as dropped)."""
        return sum(self.put(event, block) for event in events)

    @abstractmethod
    def get(self, max_events: int) -> Batch | None:
        """The next batch of at most `max_events`; None once the queue is closed and empty, or stopped."""

    @abstractmethod
    def ack(self, batch: Batch) -> None:
        """The batch is done with (delivered or dead-lettered): free its place for good."""

    def count_drop(self, reason: str) -> None:
        """An event refused before it reached the queue (the publisher could not encode it)."""
        with self._lock:
            self.dropped[reason] += 1

    dropped: dict[str, int]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._closed = False
        self._stopped = False
        self._frozen = False
        self._give_up_at: float | None = None  # time.monotonic() after which a blocking put gives up
        self.unsent_at_stop = 0

    def close(self) -> None:
        """Refuse new events (counted as dropped: closed) and let `get` flush what is left."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def stop(self) -> None:
        """Wake every waiter and make `get` return None at once: shutdown without draining."""
        with self._lock:
            self._closed = True
            self._stopped = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def give_up_at(self, deadline: float) -> None:
        """From now on a blocking `put` waits for room only until `deadline` (time.monotonic())."""
        with self._lock:
            self._give_up_at = deadline
            self._not_full.notify_all()

    def freeze(self) -> None:
        """Ignore acknowledgements from now on: what `pending` says next is what stays unsent, and
        `unsent_at_stop` (in `stats`) records it."""
        with self._lock:
            self._frozen = True
            self.unsent_at_stop = self.pending()

    def _wait_for_room(self) -> bool:
        """One wait on `_not_full` (lock held); False once the give-up deadline has passed."""
        if self._give_up_at is None:
            self._not_full.wait()
            return True
        remaining = self._give_up_at - time.monotonic()
        if remaining <= 0:
            return False
        self._not_full.wait(remaining)
        return True

    @abstractmethod
    def release(self) -> None:
        """Free files and handles; called once, after the consumer has finished."""

    @abstractmethod
    def pending(self) -> int:
        """Events not yet acknowledged (queued or in flight)."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """The `queue` section of /stats."""
