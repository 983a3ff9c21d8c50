"""Protocol v5 framing: envelopes travel inside segments (native_protocol_v5.spec section 2).

An uncompressed segment header is 3 bytes (17-bit payload length, self-contained flag, padding) and
a compressed one (lz4) 5 bytes (compressed length, uncompressed length, flag), both little-endian and
followed by their CRC24; the payload follows, then its CRC32. A payload holds whole envelopes
(self-contained) or a piece of one large envelope.
"""

from __future__ import annotations

import zlib

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from .compression import NotDecompressed, lz4_block

__all__ = ["Segment", "SegmentReader", "crc24", "looks_like_segment"]

_CRC24_INIT = 0x875060
_CRC24_POLY = 0x1974F0B
_CRC32_INIT = zlib.crc32(b"\xfa\x2d\x55\xca")
MAX_PAYLOAD = (1 << 17) - 1


def crc24(value: int, length: int) -> int:
    """The CRC24 the spec puts after a segment header (over its `length` little-endian bytes)."""
    crc = _CRC24_INIT
    for _ in range(length):
        crc ^= (value & 0xFF) << 16
        value >>= 8
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc


@record
class Segment:
    payload: bytes | None  # decompressed; None when it could not be (`error` says why)
    self_contained: bool
    size: int  # wire bytes of the whole segment
    error: str | None = None


def _header(data: bytes | bytearray, compressed: bool) -> tuple[int, int, bool, int] | None:
    """(payload length, uncompressed length, self-contained, header size) if the CRC24 holds."""
    size = 5 if compressed else 3
    if len(data) < size + 3:
        return None
    value = int.from_bytes(data[:size], "little")
    if crc24(value, size) != int.from_bytes(data[size:size + 3], "little"):
        return None
    length = value & MAX_PAYLOAD
    if compressed:
        return length, (value >> 17) & MAX_PAYLOAD, bool(value >> 34 & 1), size + 3
    return length, 0, bool(value >> 17 & 1), size + 3


def looks_like_segment(data: bytes | bytearray) -> bool | None:
    """True if `data` starts with a valid segment header (either layout); None: too few bytes yet."""
    if len(data) < 8:
        return None
    return _header(data, False) is not None or _header(data, True) is not None


class SegmentReader:
    def __init__(self, compressed: bool) -> None:
        self.compressed = compressed
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def peek(self) -> bytes:
        return bytes(self._buf)

    def take_rest(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    def next_segment(self) -> Segment | None:
        """The next whole segment, None until more bytes; ProtocolError if this is not a segment."""
        if len(self._buf) < 6:
            return None
        found = _header(self._buf, self.compressed)
        if found is None and len(self._buf) >= 8:
            found = _header(self._buf, not self.compressed)
            if found is not None:
                self.compressed = not self.compressed
        if found is None:
            if len(self._buf) < 8:
                return None
            raise ProtocolError("segment header CRC24 mismatch")
        length, uncompressed, self_contained, header_size = found
        total = header_size + length + 4
        if len(self._buf) < total:
            return None
        payload: bytes | None = bytes(self._buf[header_size:header_size + length])
        crc = int.from_bytes(self._buf[header_size + length:total], "little")
        del self._buf[:total]
        assert payload is not None
        if zlib.crc32(payload, _CRC32_INIT) != crc:
            raise ProtocolError("segment payload CRC32 mismatch")
        error = None
        if uncompressed:
            try:
                payload = lz4_block(payload, uncompressed)
            except NotDecompressed as exc:
                payload, error = None, str(exc)
        return Segment(payload, self_contained, total, error)
