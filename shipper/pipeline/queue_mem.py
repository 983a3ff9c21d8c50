"""`queue.mem`: a bounded in-memory queue with Beats' flush rules (`flush.min_events`, `flush.timeout`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from .queue_base import DROP_REASONS, Batch, EventQueue

__all__ = ["MemoryQueue"]


class MemoryQueue(EventQueue):
    """Holds at most `max_events` events, counting those in flight until their batch is acknowledged.

    `get` hands out a batch once `min_events` are waiting, or once the oldest waiting event has waited
    `flush_timeout` seconds (Beats' flush.timeout: the longest a partial batch waits), or at once when
    the queue is closing. So an event reaches the output within `flush_timeout` whatever the rate, and
    `min_events` only makes batches larger when traffic is heavy.
    """

    def __init__(
        self,
        max_events: int,
        min_events: int = 1,
        flush_timeout: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_events < 1:
            raise ValueError("queue.mem.events must be at least 1")
        self.max_events = max_events
        self.min_events = max(1, min(min_events, max_events))
        self.flush_timeout = flush_timeout
        self._clock = clock
        self._events: deque[Any] = deque()
        self._in_flight = 0
        super().__init__()
        self._first_arrival: float | None = None
        self.added = 0
        self.acked = 0
        self.blocked = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)

    def put(self, event: Any, block: bool) -> bool:
        with self._lock:
            if len(self._events) + self._in_flight >= self.max_events and not self._closed:
                if not block:
                    self.dropped["full"] += 1
                    return False
                self.blocked += 1
                while len(self._events) + self._in_flight >= self.max_events and not self._closed:
                    if not self._wait_for_room():
                        self.dropped["shutdown"] += 1
                        return False
            if self._closed:
                self.dropped["closed"] += 1
                return False
            self._append((event,))
            return True

    def put_many(self, events: Sequence[Any], block: bool) -> int:
        """As many of `events` as there is room for under one lock; when full, one event as `put` takes
        it (waiting for room or counted as dropped), then on."""
        total, index, queued = len(events), 0, 0
        while index < total:
            with self._lock:
                room = self.max_events - len(self._events) - self._in_flight
                if room > 0 and not self._closed:
                    chunk = events[index:index + room]
                    self._append(chunk)
                    index += len(chunk)
                    queued += len(chunk)
                    continue
            queued += self.put(events[index], block)
            index += 1
        return queued

    def _append(self, chunk: Sequence[Any]) -> None:
        """Queue `chunk` (the lock held, room checked)."""
        events = self._events
        before = len(events)
        events.extend(chunk)
        self.added += len(chunk)
        # Wake the consumer when its flush.timeout clock starts and when a full batch is ready; events in
        # between change neither, and `get` looks at the state before it waits.
        if before == 0:
            self._first_arrival = self._clock()
            self._not_empty.notify()
        elif before < self.min_events <= len(events):
            self._not_empty.notify()

    def get(self, max_events: int) -> Batch | None:
        with self._lock:
            while True:
                if self._stopped:
                    return None
                waiting = len(self._events)
                if waiting and (waiting >= self.min_events or self._closed):
                    break
                if not waiting:
                    if self._closed:
                        return None
                    self._not_empty.wait()
                    continue
                now = self._clock()
                first = now if self._first_arrival is None else self._first_arrival
                remaining = first + self.flush_timeout - now
                if remaining <= 0:
                    break
                self._not_empty.wait(remaining)
            queued = self._events
            count = min(max_events, len(queued))
            if count == len(queued):  # all of it (the usual case): one copy, no pop per event
                events = list(queued)
                queued.clear()
            else:
                popleft = queued.popleft
                events = [popleft() for _ in range(count)]
            self._in_flight += count
            # What is left arrived no earlier than `_first_arrival`: keeping it can only flush the rest
            # sooner, never make an event wait longer than flush.timeout.
            if not self._events:
                self._first_arrival = None
            return Batch(events, count)

    def ack(self, batch: Batch) -> None:
        with self._lock:
            if self._frozen:
                return
            self._in_flight -= batch.position
            self.acked += batch.position
            self._not_full.notify_all()

    def release(self) -> None:
        pass

    def pending(self) -> int:
        return len(self._events) + self._in_flight

    def stats(self) -> dict[str, Any]:
        return {
            "type": "mem",
            "events": len(self._events) + self._in_flight,
            "in_flight": self._in_flight,
            "max_events": self.max_events,
            "added": self.added,
            "acked": self.acked,
            "blocked": self.blocked,
            "unsent_at_stop": self.unsent_at_stop,
            "dropped": dict(self.dropped),
        }
