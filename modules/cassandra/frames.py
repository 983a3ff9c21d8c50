"""Frames (v5: envelopes) out of a byte stream: header, body, decompression, decoding.

`FrameReader` holds the bytes of one direction that are not yet a whole frame. A body longer than
`max_message_size` is skipped as it streams past (the frame is reported from its header), so the
buffer never holds more than one bounded frame.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from packetshipper.protocol import ProtocolError
from packetshipper.records import record

from . import codes as c
from .body import decode_body
from .compression import ALGORITHMS, NotDecompressed, decompress_body
from .messages import Frame
from .wire import BodyError

__all__ = ["FrameReader", "Session", "MAX_FRAME", "parse_header", "Header"]

MAX_FRAME = 256 << 20  # the spec's limit on a frame body
_V3_HEADER = struct.Struct(">BBhBI")  # version, flags, stream, opcode, length (v3 and later: 9 bytes)
_V1_HEADER = struct.Struct(">BBbBI")  # v1 and v2: an 8-bit stream id (8 bytes)

Count = Callable[..., None]


@dataclass(slots=True)
class Session:
    """What one connection negotiated, shared by its two directions' parsers."""

    compression: str | None = None  # from the client's STARTUP (COMPRESSION)
    version: int | None = None


@record
class Header:
    version: int
    is_response: bool
    flags: int
    stream: int
    opcode: int
    length: int
    size: int  # header bytes: 8 (v1, v2) or 9


def parse_header(data: bytes | bytearray) -> Header | None:
    """The header at the start of `data`; None until enough bytes; ProtocolError when it is not one."""
    if not data:
        return None
    version = data[0] & 0x7F
    if not 1 <= version <= 5:
        raise ProtocolError(f"not a CQL frame: version byte 0x{data[0]:02x}")
    layout = _V3_HEADER if version >= 3 else _V1_HEADER
    if len(data) < layout.size:
        return None
    _, flags, stream, opcode, length = layout.unpack_from(data)
    is_response = bool(data[0] & 0x80)
    if opcode not in c.OPCODES:
        raise ProtocolError(f"unknown opcode 0x{opcode:02x}")
    if (opcode in c.RESPONSE_OPCODES) != is_response:
        raise ProtocolError(f"{c.OPCODES[opcode]} with the {'response' if is_response else 'request'} bit")
    if length > MAX_FRAME:
        raise ProtocolError(f"frame body of {length} bytes (the limit is 256MB)")
    return Header(version, is_response, flags, stream, opcode, length, layout.size)


@dataclass(slots=True)
class _Pending:
    header: Header
    ts: float
    skip: int = 0  # body bytes still to drop (a body over max_message_size)
    notes: list[str] = field(default_factory=list)


class FrameReader:
    def __init__(self, *, max_size: int, compressor: str, ignored: frozenset[int], session: Session,
                 count: Count) -> None:
        self._max_size = max_size
        self._compressor = compressor
        self._ignored = ignored
        self._session = session
        self._count = count
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._ts = 0.0
        self._next_ts = 0.0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def skipping(self) -> int:
        return self._pending.skip if self._pending is not None else 0

    def feed(self, data: bytes, ts: float) -> None:
        if not self._buf and self._pending is None:
            self._ts = ts
        if self._pending is not None and self._pending.skip:
            dropped = min(self._pending.skip, len(data))
            self._pending.skip -= dropped
            data = data[dropped:]
        self._buf += data
        self._next_ts = ts

    def skip_lost(self, nbytes: int) -> bool:
        """Bytes lost inside a body being skipped: True if they fall inside it."""
        if self._pending is not None and self._pending.skip >= nbytes:
            self._pending.skip -= nbytes
            return True
        return False

    def peek(self) -> bytes:
        return bytes(self._buf)

    def take_rest(self) -> bytes:
        """Buffered bytes not yet part of a frame (for a switch of framing)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    def header_ahead(self) -> Header | None:
        return parse_header(self._buf) if self._pending is None else self._pending.header

    def next_frame(self) -> Frame | None:
        """The next whole frame, or None until more bytes arrive. ProtocolError on a bad header."""
        if self._pending is None:
            header = parse_header(self._buf)
            if header is None:
                return None
            del self._buf[:header.size]
            self._pending = _Pending(header, self._ts)
            if header.length > self._max_size:
                self._count("oversized_frames")
                self._pending.notes.append(
                    f"{c.OPCODES[header.opcode]} frame of {header.length} bytes over max_message_size: "
                    "reported from its header")
                dropped = min(header.length, len(self._buf))
                del self._buf[:dropped]
                self._pending.skip = header.length - dropped
        pending = self._pending
        header = pending.header
        if header.length > self._max_size:
            if pending.skip:
                return None
            frame = self._frame(pending, {}, decoded=False)
        else:
            if len(self._buf) < header.length:
                return None
            body = bytes(self._buf[:header.length])
            del self._buf[:header.length]
            frame = self._decode(pending, body)
        self._pending = None
        self._ts = self._next_ts
        return frame

    def _decode(self, pending: _Pending, body: bytes) -> Frame:
        header = pending.header
        if header.opcode in self._ignored and header.opcode != c.STARTUP:
            return self._frame(pending, {}, decoded=False)
        if header.flags & c.FLAG_COMPRESS and body:
            self._count("compressed_frames")
            try:
                body = self._decompress(body)
            except NotDecompressed as exc:
                self._count("compressed_not_decoded")
                pending.notes.append(f"compressed body not decoded: {exc}")
                return self._frame(pending, {}, decoded=False)
        try:
            fields = decode_body(header.opcode, header.flags, header.is_response, header.version, body)
        except BodyError as exc:
            self._count("bodies_not_decoded")
            pending.notes.append(f"{c.OPCODES[header.opcode]} body not decoded: {exc}")
            return self._frame(pending, {}, decoded=False)
        if header.opcode == c.STARTUP:
            self._on_startup(header, fields)
        return self._frame(pending, fields, decoded=True)

    def _decompress(self, body: bytes) -> bytes:
        chosen = self._compressor or self._session.compression
        candidates = (chosen,) if chosen else ALGORITHMS
        error: NotDecompressed | None = None
        for algorithm in candidates:
            try:
                return decompress_body(algorithm, body, self._max_size)
            except NotDecompressed as exc:
                error = exc
        assert error is not None
        raise error

    def _on_startup(self, header: Header, fields: dict[str, object]) -> None:
        options = fields.get("_options")
        self._session.version = header.version
        if isinstance(options, dict):
            for key, value in options.items():
                if key.upper() == "COMPRESSION" and isinstance(value, str):
                    self._session.compression = value.lower()

    def _frame(self, pending: _Pending, fields: dict[str, object], *, decoded: bool) -> Frame:
        header = pending.header
        return Frame(ts=pending.ts, version=header.version, is_response=header.is_response,
                     flags=header.flags, stream=header.stream, opcode=header.opcode, length=header.length,
                     size=header.size + header.length, fields=fields, decoded=decoded,
                     notes=tuple(pending.notes))
