"""Exponential backoff with equal jitter, as Beats' outputs wait between failed attempts."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Each wait is half the current step plus a random share of the other half; the step doubles up to
    `maximum` and goes back to `initial` after a success.

    Equal jitter keeps a floor under every wait (a receiver that is down is not hammered) while spreading
    many shippers that failed together.
    """

    __slots__ = ("initial", "maximum", "_step", "_random")

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff needs 0 < init <= max, got init={initial} max={maximum}")
        self.initial = initial
        self.maximum = maximum
        self._step = initial
        self._random = rng or random.Random()

    def next_wait(self) -> float:
        step = self._step
        self._step = min(self.maximum, step * 2)
        half = step / 2
        return half + self._random.random() * half

    def reset(self) -> None:
        self._step = self.initial
