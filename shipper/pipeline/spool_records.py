"""The disk queue's record framing, and a reader that finds whole, intact records in a segment file.

A record is a 12-byte header then its payload::

    magic "PS" | version u8 | reserved u8 | length u32 LE | crc32 u32 LE (of the length field + payload)

Version 2 payloads are encoded events (queue_disk.event_record); version 1, the format before it, held
the event as a msgpack map, and is still read.

A record torn by a crash, or damaged on disk, fails the length or checksum test. The reader then counts
one corrupt region and resynchronises at the next offset where an intact record starts, so records
after a damaged one are still delivered.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["HEADER", "MAGIC", "VERSION", "LEGACY_VERSION", "encode_record", "ReadResult", "SegmentReader"]

MAGIC = b"PS"
VERSION = 2
LEGACY_VERSION = 1
_VERSIONS = (LEGACY_VERSION, VERSION)
HEADER = struct.Struct("<2sBBII")
_LENGTH = struct.Struct("<I")
_READ_CHUNK = 1 << 20


def encode_record(payload: bytes, version: int = VERSION) -> bytes:
    length = _LENGTH.pack(len(payload))
    return HEADER.pack(MAGIC, version, 0, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


@dataclass(slots=True)
class ReadResult:
    payloads: list[bytearray]
    versions: list[int] = field(default_factory=list)  # each payload's record version
    consumed: int = 0  # bytes the read position moved, records and skipped ones alike
    corrupt_regions: int = 0
    skipped_bytes: int = 0


class SegmentReader:
    """Reads records from one segment file, from `offset` up to an end the caller gives each time.

    The end of a segment still being written only ever covers whole records, so an incomplete record
    there means "wait"; in a sealed segment (one from before a restart) it is a torn tail.
    Memory is bounded by one read chunk plus `max_record` bytes of lookahead.
    """

    def __init__(self, file: BinaryIO, offset: int, max_record: int) -> None:
        self._file = file
        self.offset = offset
        self._max_record = max_record
        self._buf = bytearray()
        self._buf_start = offset

    def close(self) -> None:
        self._file.close()

    def read(self, end: int, sealed: bool, limit: int) -> ReadResult:
        result = ReadResult([])
        start = self.offset
        while len(result.payloads) < limit and self.offset < end:
            size = self._record_size_at(self.offset, end)
            if size is None:
                if not sealed:
                    break
                size = 0
            if size > 0:
                rel = self.offset - self._buf_start
                result.payloads.append(self._buf[rel + HEADER.size : rel + size])
                result.versions.append(self._buf[rel + 2])
                self.offset += size
            else:
                resume = self._resync(self.offset + 1, end)
                result.corrupt_regions += 1
                result.skipped_bytes += resume - self.offset
                self.offset = resume
            self._trim()
        result.consumed = self.offset - start
        return result

    def _record_size_at(self, pos: int, end: int) -> int | None:
        """Size of the intact record at `pos`; 0 if the bytes there are not one; None if it runs past `end`."""
        if not self._fill(pos + HEADER.size, end):
            return None
        rel = pos - self._buf_start
        magic, version, _, length, crc = HEADER.unpack_from(self._buf, rel)
        if magic != MAGIC or version not in _VERSIONS or length > self._max_record:
            return 0
        size = HEADER.size + length
        if not self._fill(pos + size, end):
            return None
        payload = memoryview(self._buf)[rel + HEADER.size : rel + size]
        intact = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) == crc
        payload.release()
        return size if intact else 0

    def _resync(self, pos: int, end: int) -> int:
        """The first offset at or after `pos` where an intact record starts, or `end`."""
        while pos < end:
            self._fill(min(end, pos + len(MAGIC)), end)
            found = self._buf.find(MAGIC, max(0, pos - self._buf_start))
            if found < 0:
                buf_end = self._buf_start + len(self._buf)
                if buf_end >= end:
                    return end
                pos = max(pos, buf_end - len(MAGIC) + 1)
                self._trim_before(pos)
                if not self._fill(buf_end + 1, end):
                    return end  # the file is shorter than it was: nothing more to find
                continue
            candidate = self._buf_start + found
            if self._record_size_at(candidate, end):
                return candidate
            pos = candidate + 1
            self._trim_before(pos)
        return end

    def _fill(self, upto: int, end: int) -> bool:
        """Make the buffer cover [offset, upto); False if `end` comes first."""
        have = self._buf_start + len(self._buf)
        if upto <= have:
            return True
        upto_read = min(end, max(upto, have + _READ_CHUNK))
        if upto_read > have:
            self._file.seek(have)
            self._buf += self._file.read(upto_read - have)
        return self._buf_start + len(self._buf) >= upto

    def _trim(self) -> None:
        self._trim_before(self.offset)

    def _trim_before(self, pos: int) -> None:
        drop = pos - self._buf_start
        if drop >= _READ_CHUNK or (drop > 0 and drop == len(self._buf)):
            del self._buf[:drop]
            self._buf_start = pos
