"""`queue.disk`: an at-least-once spool of encoded events in segment files.

Layout of `path`::

    lock                 flock'd while a shipper uses the queue (a second one gets a clear error)
    ack                  the acknowledged read position: segment id + offset, with a checksum
    0000000001.seg ...   segments of framed records (see spool_records), each at most `segment_size`

An event leaves the queue only when its batch is acknowledged, which moves the ack position; segments
wholly behind it are deleted. Each run writes to a fresh segment, so a torn record a crash left at the
end of the previous one is read, counted and skipped, never appended to. `put` writes straight to the
kernel (no user-space buffer), so an accepted event survives `kill -9`; `fsync` decides how much
survives a power loss as well.

A record holds the event as the publisher encoded it (`outputs.encoded.pack_event`): its JSON bytes as they
are, its own @metadata and the routing fields the output reads, so nothing is encoded again on the
way out. Records of the previous format (version 1: the event as a msgpack map) are still read and
delivered; they are encoded as they are read.

There is no flush delay (Beats' disk queue has no `flush.*` keys either): `get` hands out whatever
is unread as soon as there is anything, so an event reaches the output as soon as the output is free;
batches grow by themselves when events arrive faster than the output takes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..outputs.encoded import EncodedEvent, EncodeError, EventCodec, pack_event, unpack_event
from .queue_base import DROP_REASONS, Batch, EventQueue
from .spool_records import HEADER, LEGACY_VERSION, SegmentReader, encode_record

__all__ = ["DiskQueue", "DiskQueueError", "FSYNC_POLICIES"]

log = logging.getLogger(__name__)

FSYNC_POLICIES = ("always", "interval", "never")
_ACK = struct.Struct("<4sQQI")
_ACK_MAGIC = b"PSAK"
_SUFFIX = ".seg"
class DiskQueueError(Exception):
    """The queue directory cannot be used (in use by another process, not writable, ...)."""


@dataclass(slots=True)
class _Segment:
    id: int
    path: str
    end: int  # bytes of whole records (sealed: the file size found at startup)
    sealed: bool


@dataclass(frozen=True, slots=True)
class _Position:
    segment: int
    offset: int
    consumed: int  # bytes between the previous ack position and this one
    records: int


class DiskQueue(EventQueue):
    def __init__(
        self,
        path: str,
        max_size: int,
        segment_size: int,
        fsync: str = "interval",
        fsync_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        codec: EventCodec | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if segment_size <= HEADER.size:
            raise ValueError(f"segment_size must be larger than {HEADER.size} bytes")
        self.path = path
        self.max_size = max_size
        self.segment_size = segment_size
        self._fsync = fsync
        self._fsync_interval = fsync_interval
        self._clock = clock
        self.codec = codec if codec is not None else EventCodec()
        self._paths: dict[tuple[str, ...], frozenset[str]] = {}
        self._last_sync = clock()
        super().__init__()
        self.added = 0
        self.acked = 0
        self.blocked = 0
        self.recovered = 0
        self.corrupt_regions = 0
        self.skipped_bytes = 0
        self.decode_errors = 0
        self.legacy_records = 0
        self.ack_state_invalid = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self._records = 0  # records not yet acknowledged
        self._unread = 0  # records not yet handed to the output
        self._bytes = 0  # bytes from the ack position to the write end
        self._open_directory()
        self._recover()
        self._write_fd = -1
        self._start_segment()
        self._first_own_segment = self._segments[-1].id
        self._reader_segment = self._segments[0]
        self._reader = self._open_reader(self._segments[0], self._ack_offset)

    # --- startup -------------------------------------------------------------------------------

    def _open_directory(self) -> None:
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            self._lock_fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DiskQueueError(f"cannot use disk queue directory {self.path}: {exc}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise DiskQueueError(f"disk queue {self.path} is in use by another process") from None

    def _recover(self) -> None:
        ids = sorted(
            int(name[: -len(_SUFFIX)])
            for name in os.listdir(self.path)
            if name.endswith(_SUFFIX) and name[: -len(_SUFFIX)].isdigit()
        )
        ack_segment, ack_offset = self._read_ack_state()
        self._segments: list[_Segment] = []
        for seg_id in ids:
            path = self._segment_path(seg_id)
            if seg_id < ack_segment:
                os.unlink(path)
                continue
            self._segments.append(_Segment(seg_id, path, os.path.getsize(path), sealed=True))
        if not self._segments or self._segments[0].id != ack_segment:
            ack_offset = 0
        if self._segments:
            ack_offset = min(ack_offset, self._segments[0].end)
        self._ack_offset = ack_offset
        self._ack_segment = ack_segment
        for index, segment in enumerate(self._segments):
            start = ack_offset if index == 0 else 0
            self._scan(segment, start)
        self.recovered = self._records
        self._unread = self._records
        if self.recovered or self.corrupt_regions:
            log.info(
                "disk queue %s: %d unacknowledged events recovered, %d corrupt regions (%d bytes) skipped",
                self.path, self.recovered, self.corrupt_regions, self.skipped_bytes,
            )

    def _scan(self, segment: _Segment, start: int) -> None:
        reader = self._open_reader(segment, start)
        try:
            while reader.offset < segment.end:
                result = reader.read(segment.end, sealed=True, limit=4096)
                self._records += len(result.payloads)
                self.corrupt_regions += result.corrupt_regions
                self.skipped_bytes += result.skipped_bytes
        finally:
            reader.close()
        self._bytes += segment.end - start

    def _read_ack_state(self) -> tuple[int, int]:
        try:
            with open(os.path.join(self.path, "ack"), "rb") as file:
                data = file.read(_ACK.size + 1)
        except FileNotFoundError:
            return 0, 0
        if len(data) == _ACK.size:
            magic, segment, offset, crc = _ACK.unpack(data)
            if magic == _ACK_MAGIC and zlib.crc32(data[: -4]) == crc:
                return segment, offset
        self.ack_state_invalid += 1
        log.warning("disk queue %s: ack state unreadable; resending everything still on disk", self.path)
        return 0, 0

    # --- writing -------------------------------------------------------------------------------

    def _segment_path(self, seg_id: int) -> str:
        return os.path.join(self.path, f"{seg_id:010d}{_SUFFIX}")

    def _start_segment(self) -> None:
        # never below the ack position: a segment with a lower id would count as acknowledged
        seg_id = max(self._segments[-1].id if self._segments else 0, self._ack_segment) + 1
        path = self._segment_path(seg_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        if self._write_fd >= 0:
            if self._fsync != "never":
                os.fsync(self._write_fd)
            os.close(self._write_fd)
            self._segments[-1].sealed = True
        self._write_fd = fd
        self._segments.append(_Segment(seg_id, path, 0, sealed=False))

    def put(self, event: EncodedEvent | dict[str, Any], block: bool) -> bool:
        """`event` as the publisher encoded it (a dict is encoded here, by `codec`)."""
        try:
            if not isinstance(event, EncodedEvent):
                event = self.codec.encode(event)
            frame = encode_record(pack_event(event))
        except (EncodeError, TypeError):
            with self._lock:
                self.dropped["encode_error"] += 1
            return False
        size = len(frame)
        if size > self.segment_size or size > self.max_size:
            self.dropped["too_large"] += 1
            return False
        with self._lock:
            if self._bytes + size > self.max_size and not self._closed:
                if not block:
                    self.dropped["full"] += 1
                    return False
                self.blocked += 1
                while self._bytes + size > self.max_size and not self._closed:
                    if not self._wait_for_room():
                        self.dropped["shutdown"] += 1
                        return False
            if self._closed:
                self.dropped["closed"] += 1
                return False
            if not self._write(frame):
                self.dropped["write_error"] += 1
                return False
            self.added += 1
            self._records += 1
            self._unread += 1
            self._bytes += size
            self._not_empty.notify()
            return True

    def _write(self, frame: bytes) -> bool:
        try:
            if self._segments[-1].end + len(frame) > self.segment_size:
                self._start_segment()
            segment = self._segments[-1]
            view = memoryview(frame)
            while view:
                view = view[os.write(self._write_fd, view) :]
        except OSError as exc:
            log.error("disk queue %s: write failed: %s", self.path, exc)
            self._undo_partial_write()
            return False
        segment.end += len(frame)
        self._maybe_sync(self._write_fd)
        return True

    def _undo_partial_write(self) -> None:
        try:
            os.ftruncate(self._write_fd, self._segments[-1].end)
        except OSError:
            self._start_segment()

    def _maybe_sync(self, fd: int) -> None:
        if self._fsync == "never":
            return
        now = self._clock()
        if self._fsync == "always" or now - self._last_sync >= self._fsync_interval:
            os.fsync(fd)
            self._last_sync = now

    # --- reading and acknowledging -----------------------------------------------------------

    def _open_reader(self, segment: _Segment, offset: int) -> SegmentReader:
        return SegmentReader(open(segment.path, "rb"), offset, self.segment_size)

    def get(self, max_events: int) -> Batch | None:
        while True:
            with self._lock:
                while not self._unread and not self._closed:
                    self._not_empty.wait()
                if self._stopped or not self._unread:
                    return None
            batch = self._read_batch(max_events)
            if batch.position.consumed:
                return batch
            with self._lock:  # the files hold less than the counts say (changed behind our back)
                log.error("disk queue %s: %d events expected but not found on disk", self.path, self._unread)
                self._unread = 0

    def _read_batch(self, max_events: int) -> Batch:
        events: list[EncodedEvent] = []
        consumed = records = 0
        while len(events) < max_events:
            with self._lock:
                segment = self._reader_segment
                end, sealed = segment.end, segment.sealed
                following = self._next_segment(segment)
            result = self._reader.read(end, sealed, max_events - len(events))
            consumed += result.consumed
            records += len(result.payloads)
            if segment.id >= self._first_own_segment:  # older ones were counted by the startup scan
                self.corrupt_regions += result.corrupt_regions
                self.skipped_bytes += result.skipped_bytes
            events.extend(self._decode(result.payloads, result.versions))
            if self._reader.offset >= end and sealed and following is not None:
                self._reader.close()
                self._reader_segment = following
                self._reader = self._open_reader(following, 0)
            elif not result.consumed:
                break
        with self._lock:
            self._unread = max(0, self._unread - records)
        return Batch(events, _Position(self._reader_segment.id, self._reader.offset, consumed, records))

    def _next_segment(self, segment: _Segment) -> _Segment | None:
        for index, candidate in enumerate(self._segments):
            if candidate is segment:
                return self._segments[index + 1] if index + 1 < len(self._segments) else None
        return None

    def _decode(self, payloads: list[bytearray], versions: list[int]) -> list[EncodedEvent]:
        events = []
        for payload, version in zip(payloads, versions, strict=True):
            try:
                event = self._legacy(payload) if version == LEGACY_VERSION else self._event(payload)
            except (ValueError, TypeError, EncodeError):  # orjson.JSONDecodeError, msgpack's errors
                self.decode_errors += 1
                continue
            events.append(self.codec.ready(event))
        return events

    def _event(self, payload: bytearray) -> EncodedEvent:
        return unpack_event(payload, self._paths)

    def _legacy(self, payload: bytearray) -> EncodedEvent:
        """A record of the previous format: the event as a msgpack map."""
        import msgpack

        try:
            event = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except msgpack.UnpackException as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(event, dict):
            raise ValueError("not a map")
        self.legacy_records += 1
        return self.codec.encode(event)

    def ack(self, batch: Batch) -> None:
        position: _Position = batch.position
        with self._lock:
            if self._frozen:
                return
            self._records -= position.records
            self._bytes -= position.consumed
            self.acked += position.records
            self._not_full.notify_all()
            doomed = [s for s in self._segments if s.id < position.segment and s.sealed]
            self._segments = [s for s in self._segments if s not in doomed]
        self._write_ack_state(position.segment, position.offset)
        for segment in doomed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(segment.path)

    def _write_ack_state(self, segment: int, offset: int) -> None:
        head = _ACK.pack(_ACK_MAGIC, segment, offset, 0)[:-4]
        data = head + struct.pack("<I", zlib.crc32(head))
        final = os.path.join(self.path, "ack")
        temp = final + ".tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            self._maybe_sync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)

    # --- lifecycle -----------------------------------------------------------------------------

    def release(self) -> None:
        """Close the files; when everything was acknowledged, leave no segment behind."""
        with self._lock:
            if self._write_fd >= 0:
                if self._fsync != "never":
                    os.fsync(self._write_fd)
                os.close(self._write_fd)
                self._write_fd = -1
            self._reader.close()
            if self._records == 0:
                self._write_ack_state(self._segments[-1].id + 1, 0)
                for segment in self._segments:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(segment.path)
                self._segments = self._segments[-1:]
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def pending(self) -> int:
        return self._records

    def stats(self) -> dict[str, Any]:
        return {
            "type": "disk",
            "events": self._records,
            "bytes": self._bytes,
            "max_bytes": self.max_size,
            "segments": len(self._segments),
            "added": self.added,
            "acked": self.acked,
            "blocked": self.blocked,
            "unsent_at_stop": self.unsent_at_stop,
            "recovered": self.recovered,
            "corrupt_regions": self.corrupt_regions,
            "skipped_bytes": self.skipped_bytes,
            "decode_errors": self.decode_errors,
            "legacy_records": self.legacy_records,
            "ack_state_invalid": self.ack_state_invalid,
            "dropped": dict(self.dropped),
        }
