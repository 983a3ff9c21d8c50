"""The message after DATA: read up to the line holding a single dot, dot-stuffing undone (RFC 5321
4.5.2). Only the header section is kept (bounded); the body is counted, never buffered."""

from __future__ import annotations

from .headers import HeaderReader
from .messages import Content

__all__ = ["ContentReader"]

_DOT = 0x2E
_LF = 0x0A


class ContentReader:
    __slots__ = ("_headers", "_line_start", "wire", "size", "gap", "_max_header_line")

    def __init__(self, max_header_size: int) -> None:
        self._headers = HeaderReader(max_header_size)
        self._max_header_line = max_header_size
        self._line_start = True
        self.wire = 0  # bytes read, terminator included
        self.size = 0  # message bytes: unstuffed, terminator excluded
        self.gap = False

    def feed(self, buf: bytes, pos: int) -> tuple[int, bool]:
        """Read from `buf[pos:]`; return where reading stopped and whether the message ended there.

        It stops short of the end only when it needs more bytes to decide (the start of a line that
        may be the terminator, or an unfinished header line); the caller keeps those for next time."""
        headers = self._headers
        while not headers.done:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > self._max_header_line:
                    headers.give_up()
                    break
                return pos, False
            line = buf[pos:nl + 1]
            if line[0] == _DOT:
                if line in (b".\r\n", b".\n"):
                    self.wire += len(line)
                    return nl + 1, True
                self.size -= 1
                headers.line(line[1:])
            else:
                headers.line(line)
            self.size += len(line)
            self.wire += len(line)
            pos = nl + 1
        return self._body(buf, pos)

    def _body(self, buf: bytes, pos: int) -> tuple[int, bool]:
        end = len(buf)
        while pos < end:
            if self._line_start and buf[pos] == _DOT:
                after = buf[pos + 1:pos + 3]
                if after[:1] == b"\n" or after == b"\r\n":
                    stop = pos + 1 + (1 if after[:1] == b"\n" else 2)
                    self.wire += stop - pos
                    return stop, True
                if after in (b"", b"\r"):
                    return pos, False
                self.size -= 1  # a stuffed dot: the message itself has one dot less
            nxt = buf.find(b"\n.", pos)
            stop = end if nxt < 0 else nxt + 1
            self.size += stop - pos
            self.wire += stop - pos
            self._line_start = buf[stop - 1] == _LF
            pos = stop
        return pos, False

    def lost(self, nbytes: int) -> None:
        """`nbytes` of the message were lost: counted, and the line they end in is not a line start."""
        self.gap = True
        self.wire += nbytes
        self.size += nbytes
        self._line_start = False
        self._headers.give_up()

    def content(self, ts: float) -> Content:
        headers = self._headers
        return Content(ts=ts, size=self.wire, message_size=max(0, self.size), headers=tuple(headers.headers),
                       headers_truncated=headers.truncated and not self.gap, gap=self.gap)
