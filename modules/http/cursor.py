"""A bounded read cursor over one complete header block; every overrun is a ProtocolError."""

from __future__ import annotations

from packetshipper.protocol import ProtocolError

CRLF = b"\r\n"


class LineCursor:
    """Reads CRLF-terminated lines from `data[start:end]` and never past `end`."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else end

    def line(self) -> bytes:
        """The next line without its CRLF."""
        stop = self._data.find(CRLF, self._pos, self._end)
        if stop < 0:
            raise ProtocolError("header line without CRLF")
        line = self._data[self._pos : stop]
        self._pos = stop + 2
        return line
