"""The Logstash output's slow-start window: how many events go out per Lumberjack window frame.

It starts small, grows by half each time a full window is acknowledged (up to the largest size that has
worked, then up to the maximum), and halves on error, as Beats does.
"""

from __future__ import annotations

import math

__all__ = ["SlowStartWindow"]

START_SIZE = 10
MIN_SIZE = 1


class SlowStartWindow:
    __slots__ = ("size", "maximum", "max_ok")

    def __init__(self, maximum: int, enabled: bool = True) -> None:
        self.maximum = max(MIN_SIZE, maximum)
        self.size = min(START_SIZE, self.maximum) if enabled else self.maximum
        self.max_ok = 0

    def grow(self, acked_chunk: int) -> None:
        """A chunk of `acked_chunk` events was fully acknowledged."""
        if self.size > acked_chunk:
            return  # the window was not the limit; nothing learnt
        if self.max_ok < self.size:
            self.max_ok = self.size
            self.size = min(math.ceil(1.5 * self.size), self.maximum)
        elif self.size < self.max_ok:
            self.size = min(math.ceil(1.5 * self.size), self.max_ok)

    def shrink(self) -> None:
        self.size = max(MIN_SIZE, self.size // 2)
