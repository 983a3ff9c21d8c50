"""`-O` (Packetbeat's one-packet-at-a-time): before each packet is read, a prompt, then a wait for Enter.

A tap on the source's batches (`Shipper.batch_taps`): each batch is handed on one packet at a time (the
same buffer, one record each), and each packet only after a line was read from standard input. At
the end of standard input (a closed pipe) the rest of the capture is read without waiting, as
Packetbeat's `fmt.Scanln` returns at once then.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TextIO

from .capture import META

__all__ = ["OneAtATime", "PROMPT"]

PROMPT = "Press enter to read packet"

Batches = Iterator[tuple[bytes, bytes]]


class OneAtATime:
    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._stdin = stdin if stdin is not None else sys.stdin
        self._stdout = stdout if stdout is not None else sys.stdout
        self._waiting = True
        self.packets = 0

    def wrap(self, batches: Batches) -> Batches:
        size = META.size
        for buf, meta in batches:
            if not meta:
                yield buf, meta  # a live capture's idle tick: no packet to wait for
                continue
            for start in range(0, len(meta), size):
                self._wait()
                self.packets += 1
                yield buf, meta[start : start + size]

    def _wait(self) -> None:
        if not self._waiting:
            return
        print(PROMPT, file=self._stdout, flush=True)
        try:
            line = self._stdin.readline()
        except (OSError, ValueError):  # standard input closed or not readable: stop waiting
            line = ""
        if not line:
            self._waiting = False
