"""The cyclic garbage collector during a capture run: on a clock, not on allocation counts.

Packets, flows, connections and events make no reference cycles (tests/test_tcp_no_cycles.py): reference
counting frees them. But many of them are alive at once, and the collector, when allocations trigger it,
traverses every survivor again and again: on bench's apps capture that was 0.75 s of a 15 s replay, for
about 1,200 objects it found. So a run turns the automatic collector off and collects fully every
`interval` seconds of wall time instead: a cycle something does make is still freed, within that time.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["CollectorPacing"]


class CollectorPacing:
    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._due = float("inf")
        self._was_enabled = True
        self.collections = 0

    def start(self) -> None:
        """Collect what start-up left, keep the survivors out of later collections, and stop the
        automatic collector."""
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._due = self._clock() + self.interval

    def poll(self) -> None:
        """Collect if the interval has passed: called once per captured batch (and idle wake-up)."""
        now = self._clock()
        if now >= self._due:
            gc.collect()
            self.collections += 1
            self._due = now + self.interval

    def stop(self) -> None:
        """Give the process its automatic collector back (a test, say, runs many captures). What the run
        left alive is frozen first: otherwise the first allocation after this would traverse all of it
        (the objects the run made while the collector was off), and so would the collection at exit."""
        self._due = float("inf")
        gc.freeze()
        if self._was_enabled:
            gc.enable()
