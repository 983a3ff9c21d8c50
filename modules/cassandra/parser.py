"""The sans-IO stream parser of one direction: legacy frames (v1-v4, and v5 until its handshake is
done) or v5 segments, switching as the spec says: after the client's v5 STARTUP, and after the
server's READY or AUTHENTICATE answering it.

A capture that starts inside a v5 connection is recognised by its segment headers' CRC24, and a
client that falls back to a lower version after a v5 STARTUP (the server refused it) is recognised
by a legacy header where a segment was expected.
"""

from __future__ import annotations

import enum
from typing import Any

from packetshipper.protocol import Direction, ProtocolError, StreamParser

from . import codes as c
from .frames import Count, FrameReader, Session, parse_header
from .messages import Frame
from .segments import SegmentReader, looks_like_segment
from .settings import CassandraConfig

__all__ = ["CassandraStreamParser"]


class _Mode(enum.Enum):
    FRAMES = "frames"
    SEGMENTS = "segments"


class CassandraStreamParser(StreamParser):
    def __init__(self, config: CassandraConfig, direction: Direction, session: Session, count: Count) -> None:
        self._direction = direction
        self._session = session
        self._count = count
        self._frames = FrameReader(max_size=config.max_message_size, compressor=config.compressor,
                                   ignored=config.ignored_ops, session=session, count=count)
        self._segments = SegmentReader(compressed=False)
        self._mode = _Mode.FRAMES
        self._envelopes = FrameReader(max_size=config.max_message_size, compressor=config.compressor,
                                      ignored=config.ignored_ops, session=session, count=count)

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        out: list[Frame] = []
        if self._mode is _Mode.FRAMES:
            self._frames.feed(data, ts)
            self._read_frames(out, ts)
        else:
            self._segments.feed(data)
        if self._mode is _Mode.SEGMENTS:
            self._read_segments(out, ts)
        return out

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        if self._mode is _Mode.FRAMES and self._frames.skip_lost(nbytes):
            return []
        raise ProtocolError(f"{nbytes} bytes lost")

    def _read_frames(self, out: list[Frame], ts: float) -> None:
        while True:
            try:
                frame = self._frames.next_frame()
            except ProtocolError:
                if self._frames.skipping or not looks_like_segment(self._frames.peek()):
                    raise
                self._to_segments(compressed=self._session.compression == "lz4", ts=ts)
                return
            if frame is None:
                return
            out.append(frame)
            if frame.version >= 5 and self._switches(frame):
                self._to_segments(compressed=self._session.compression == "lz4", ts=ts)
                return

    def _switches(self, frame: Frame) -> bool:
        if self._direction is Direction.REQUEST:
            return frame.opcode == c.STARTUP
        return frame.opcode in (c.READY, c.AUTHENTICATE)

    def _to_segments(self, *, compressed: bool, ts: float) -> None:
        self._mode = _Mode.SEGMENTS
        self._segments = SegmentReader(compressed=compressed)
        self._segments.feed(self._frames.take_rest())

    def _to_frames(self, ts: float) -> None:
        self._mode = _Mode.FRAMES
        self._frames.feed(self._segments.take_rest(), ts)

    def _read_segments(self, out: list[Frame], ts: float) -> None:
        while True:
            try:
                segment = self._segments.next_segment()
            except ProtocolError:
                if self._envelopes.buffered or not self._legacy_ahead():
                    raise
                self._count("framing_fallbacks")
                self._to_frames(ts)
                self._read_frames(out, ts)
                return
            if segment is None:
                return
            self._count("segments")
            if segment.payload is None:
                self._count("compressed_not_decoded")
                if not segment.self_contained:
                    raise ProtocolError(f"segment not decompressed: {segment.error}")
                continue
            self._envelopes.feed(segment.payload, ts)
            while (frame := self._envelopes.next_frame()) is not None:
                out.append(frame)

    def _legacy_ahead(self) -> bool:
        try:
            return parse_header(self._segments.peek()) is not None
        except ProtocolError:
            return False
