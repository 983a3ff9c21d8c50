"""ONC RPC over TCP: record marking (RFC 5531 section 11) for one direction of a connection.

Each record is one or more fragments, each behind a 4-byte mark (last-fragment bit, 31-bit length).
The reader keeps at most `keep` bytes of a record, enough for every header this module reads; the rest
of a long record (WRITE or READ data) is counted in its size and skipped, so memory does not grow with
record size, and a gap in the skipped part costs nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import StreamParser

from .rpc import HEAD_SIZE, MalformedRecord, check_head, decode_record
from .xdr import NfsProtocolError

__all__ = ["RecordParser"]

LAST_FRAGMENT = 0x80000000
LENGTH_MASK = 0x7FFFFFFF


class _State(enum.Enum):
    MARK = 0  # reading a 4-byte record mark
    FRAGMENT = 1  # inside a fragment's data


class RecordParser(StreamParser):
    """Bytes of one direction in, `RpcCall`/`RpcReply` messages out."""

    __slots__ = ("_keep", "_count", "_state", "_mark", "_left", "_last", "_record", "_size", "_start",
                 "_checked", "_damaged")

    def __init__(self, keep: int, count: Callable[[str], None]) -> None:
        self._keep = keep
        self._count = count
        self._state = _State.MARK
        self._mark = b""
        self._left = 0  # bytes left in the current fragment
        self._last = False
        self._record = bytearray()  # the kept head of the current record
        self._size = 0  # bytes of the current record so far
        self._start = 0.0
        self._checked = False
        self._damaged = False

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        out: list[Any] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._state is _State.MARK:
                pos = self._read_mark(data, pos, ts)
                if self._state is _State.FRAGMENT and self._left == 0 and self._last:
                    self._finish(out)
                continue
            take = min(self._left, end - pos)
            room = self._keep - len(self._record)
            if room > 0:
                self._record += data[pos : pos + min(take, room)]
                if not self._checked and len(self._record) >= HEAD_SIZE:
                    self._check()
            self._size += take
            self._left -= take
            pos += take
            if self._left == 0:
                if self._last:
                    self._finish(out)
                else:
                    self._state = _State.MARK
        return out

    def _read_mark(self, data: bytes, pos: int, ts: float) -> int:
        need = 4 - len(self._mark)
        if need == 4 and self._size == 0 and not self._record:
            self._start = ts  # a record's time is that of its first byte
        self._mark += data[pos : pos + need]
        pos += need
        if len(self._mark) < 4:
            return pos
        mark = int.from_bytes(self._mark, "big")
        self._mark = b""
        self._last = bool(mark & LAST_FRAGMENT)
        self._left = mark & LENGTH_MASK
        self._state = _State.FRAGMENT
        if self._left == 0 and not self._last:
            self._state = _State.MARK  # an empty fragment: allowed, nothing to read
        return pos

    def _check(self) -> None:
        self._checked = True
        check_head(bytes(self._record[:HEAD_SIZE]))

    def _finish(self, out: list[Any]) -> None:
        record, size, damaged = bytes(self._record), self._size, self._damaged
        self._state = _State.MARK
        self._record = bytearray()
        self._size = 0
        self._checked = False
        self._damaged = False
        if damaged:
            self._count("records_with_gaps")
            return
        try:
            out.append(decode_record(record, self._start, size, truncated=size > len(record)))
        except MalformedRecord:
            self._count("malformed_records")
        if size > len(record):
            self._count("records_truncated")

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        """Lost bytes inside a fragment are skipped; the record is dropped only if they fall in its kept head."""
        if self._state is not _State.FRAGMENT or nbytes > self._left:
            raise NfsProtocolError(f"{nbytes} bytes lost across an RPC record mark")
        if len(self._record) < self._keep:
            self._damaged = True
        self._size += nbytes
        self._left -= nbytes
        out: list[Any] = []
        if self._left == 0:
            if self._last:
                self._finish(out)
            else:
                self._state = _State.MARK
        return out

    def receive_eof(self, ts: float) -> list[Any]:
        if self._size or self._mark or self._state is _State.FRAGMENT:
            self._count("incomplete_records")
        return []
