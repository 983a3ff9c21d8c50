"""One updating line on standard error while a capture file is read: packets, share of the file, rate,
events, time left (tqdm). Only when standard error is a terminal; never on standard output.

The share read is estimated from the records' sizes: exact for pcap (a 24-byte file header, then a
16-byte header and the captured bytes per record), close for pcapng (blocks carry a little more), and
absent for a compressed file, whose size on disk says nothing about how much is left.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

__all__ = ["FileProgress", "wants_progress"]

_PCAP_HEADER = 24
_RECORD_HEADER = 16
_REFRESH = 0.25  # seconds between updates of the line: at most four a second


def wants_progress(stream: TextIO, disabled: bool) -> bool:
    if disabled:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _screen(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows; one that reports no size (a bare pseudo-terminal) gets 100 x 24,
    since tqdm would otherwise draw nothing on it."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, rows = size.columns, size.lines
    except (OSError, ValueError, AttributeError):
        columns, rows = 0, 0
    return (columns if columns > 0 else 100), (rows if rows > 0 else 24)


class FileProgress:
    """Wraps a file source's batches; `events` is read when the line is refreshed."""

    def __init__(self, path: str, events: Callable[[], int], stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        compressed = path.endswith(".gz")
        try:
            size = None if compressed else os.path.getsize(path)
        except OSError:
            size = None
        stream = stream or sys.stderr
        columns, rows = _screen(stream)
        self._events = events
        self._packets = 0
        self._started = time.monotonic()
        self._next_refresh = 0.0
        self._bar: Any = tqdm(total=size, initial=_PCAP_HEADER if size else 0, unit="B", unit_scale=True,
                              unit_divisor=1024, file=stream, ncols=columns, nrows=rows,
                              mininterval=_REFRESH, leave=True, desc=os.path.basename(path),
                              bar_format="{desc}: {percentage:3.0f}% |{bar:20}|{postfix} [{remaining} left]"
                              if size else "{desc}:{postfix} [{elapsed}]")

    def wrap(self, batches: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        bar = self._bar
        try:
            for buf, meta in batches:
                if meta:
                    count = len(meta) // 16
                    self._packets += count
                    now = time.monotonic()
                    # The packets' bytes from the index: a buffer may hold more than them (record headers).
                    bar.update(sum(memoryview(meta).cast("I")[3::4]) + count * _RECORD_HEADER)
                    if now >= self._next_refresh:
                        self._next_refresh = now + _REFRESH
                        self._describe(now)
                yield buf, meta
        finally:
            self.close()

    def _describe(self, now: float) -> None:
        rate = self._packets / max(now - self._started, 1e-9)
        self._bar.set_postfix_str(f"{self._packets:,} packets, {rate:,.0f} packets/s, {self._events():,} events",
                                  refresh=False)

    def close(self) -> None:
        if self._bar is None:
            return
        self._describe(time.monotonic())
        if self._bar.total:
            self._bar.n = self._bar.total  # the estimate may fall short of the size on disk
        self._bar.refresh()
        self._bar.close()
        self._bar = None
