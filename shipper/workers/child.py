"""One worker process: a whole Shipper (decode, flows, modules) on its share of the packets.

Its events do not go to an output: `ChannelPublisher` sends them to the main process in batches,
encoded once, where the one publisher pipeline queues and delivers them. A file's packets come from the
main process's reader (`PipeFileSource`: every batch, in the shared ring or down the pipe, of which
the worker keeps its share with `sharing.select`); a live interface's from the worker's own AF_PACKET
socket in the fanout group.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from ..capture import META
from ..event import EVENT_ID_KEY
from ..outputs.encoded import METADATA, EncodeError
from ..pipeline.api import Publisher
from . import channel
from .encoding import Encoding, worker_validator
from .ring import RingView

__all__ = ["WorkerSpec", "ChannelPublisher", "PipeFileSource", "worker_main"]

log = logging.getLogger("packetshipper.workers")

FLUSH_EVENTS = 512  # events per message to the main process
FLUSH_SECONDS = 0.05  # a live worker sends what it has at least this often
METRICS_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    config: dict[str, Any]
    index: int
    count: int
    parent_pid: int
    log_level: int
    linktype: int | None  # files: the link type of the file the main process reads; live: None
    fanout_group: int | None
    encoding: Encoding | None = None  # how events are encoded for the main process's publisher


class ChannelPublisher(Publisher):
    """Encodes each event once, by the main process's publisher's rules (`Encoding`), and sends them to
    the main process FLUSH_EVENTS at a time (and every FLUSH_SECONDS while live); a full pipe blocks the
    worker, as a full queue blocks a single process reading a file."""

    def __init__(self, conn: Connection, encoding: Encoding | None = None,
                 config: dict[str, Any] | None = None) -> None:
        from ..event import id_stamper

        encoding = encoding if encoding is not None else Encoding(queued=False)
        self._conn = conn
        self._lock = threading.Lock()  # log records may come from other threads
        self._queued = encoding.queued
        self._encode = encoding.codec().encode
        self._stamp = id_stamper() if encoding.event_ids else None
        self._validator: Callable[[dict[str, Any]], bool] | None = None
        self.validation_stats: Callable[[], Any] | None = None
        if encoding.validate:
            self._validator, self.validation_stats = worker_validator(config or {})
        self._with_fields = bool(encoding.paths)
        self._paths = encoding.paths
        self._docs: list[bytes] = []
        self._metas: list[Any] = []
        self._fields: list[Any] = []
        self._metas_seen = False
        self._last_flush = self._last_metrics = time.monotonic()
        self.snapshot: Any = None  # the worker Shipper's metrics snapshot function, once it exists
        self.unencodable = 0

    def publish(self, event: dict[str, Any]) -> bool:
        """Validate (if enabled), stamp the id (if the output wants one), encode: as QueuePublisher.publish."""
        if self._validator is not None and not self._validator(event):
            return False
        if self._stamp is not None:
            self._stamp(event)
        try:
            encoded = self._encode(event)
        except EncodeError as exc:
            self._unencodable(event, f"cannot encode as JSON: {exc}")
            return False
        docs = self._docs
        docs.append(encoded.doc)
        meta = encoded.meta
        self._metas.append(meta)
        if meta is not None:
            self._metas_seen = True
        if self._with_fields:
            self._fields.append(encoded.fields)
        if len(docs) >= FLUSH_EVENTS:
            self.flush()
        return True

    def document_sink(self, fields: frozenset[str]) -> Callable[[Sequence[bytes], Mapping[str, Any]], int] | None:
        """Events encoded by their maker join the next batch as `publish`'s do (see Publisher.document_sink)."""
        if self._validator is not None or not self._paths <= fields:
            return None
        paths, next_id = self._paths, self._stamp.next_id if self._stamp is not None else None

        def sink(docs: Sequence[bytes], values: Mapping[str, Any]) -> int:
            routed = {path: values[path] for path in paths if path in values} if paths else None
            index, total = 0, len(docs)
            while index < total:  # batches of at most FLUSH_EVENTS, as publish's
                chunk = docs[index:index + max(1, FLUSH_EVENTS - len(self._docs))]
                index += len(chunk)
                self._docs.extend(chunk)
                if next_id is not None:
                    self._metas.extend([{EVENT_ID_KEY: next_id()} for _ in chunk])
                    self._metas_seen = True
                else:
                    self._metas.extend([None] * len(chunk))
                if paths:
                    self._fields.extend([routed] * len(chunk))
                if len(self._docs) >= FLUSH_EVENTS:
                    self.flush()
            return total

        return sink

    def send(self, message: bytes) -> None:
        with self._lock:
            self._conn.send_bytes(message)

    def flush(self) -> None:
        docs, metas, fields = self._docs, self._metas, self._fields
        with_metas, with_fields = self._metas_seen, self._with_fields
        self._docs, self._metas, self._fields, self._metas_seen = [], [], [], False
        self._last_flush = time.monotonic()
        if not docs:
            return
        try:
            message = channel.events_message(docs, metas if with_metas else None, fields if with_fields else None)
        except TypeError:  # an @metadata JSON cannot express: send the others, dead-letter it
            message = self._expressible(docs, metas, fields, with_metas, with_fields)
        self.send(message)

    def _expressible(self, docs: list[bytes], metas: list[Any], fields: list[Any], with_metas: bool,
                     with_fields: bool) -> bytes:
        kept: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        for i, doc in enumerate(docs):
            parts = (metas[i], fields[i] if with_fields else None)
            try:
                channel.encode(channel.EVENTS, parts)
            except TypeError as exc:
                event = orjson.loads(doc)
                if metas[i] is not None:
                    event[METADATA] = metas[i]
                self._unencodable(event, f"cannot encode as JSON: {exc}")
                continue
            for part, value in zip(kept, (doc, *parts), strict=True):
                part.append(value)
        return channel.events_message(kept[0], kept[1] if with_metas else None, kept[2] if with_fields else None)

    def _unencodable(self, event: dict[str, Any], reason: str) -> None:
        """To the main process's dead-letter file and drop counter (queue.dropped.encode_error), as a
        single process's publisher would; a publisher that takes dicts: dropped, logged and counted here."""
        if self._queued:
            self.send(channel.unencodable_message(reason, event))
            return
        self.unencodable += 1
        log.warning("an event could not be encoded and is dropped: %s", reason)

    def tick(self) -> None:
        """After each batch: send what waits if it has waited long enough, and the metrics every second."""
        now = time.monotonic()
        if self._docs and now - self._last_flush >= FLUSH_SECONDS:
            self.flush()
        if now - self._last_metrics >= METRICS_SECONDS:
            self._last_metrics = now
            self.send_metrics()

    def tap(self, batches: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        for batch in batches:
            yield batch
            self.tick()

    def send_metrics(self) -> None:
        if self.snapshot is not None:
            snapshot = self.snapshot()
            snapshot.setdefault("capture", {})["unencodable_events"] = self.unencodable
            usage = resource.getrusage(resource.RUSAGE_SELF)
            snapshot["worker"] = {"cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}
            if self.validation_stats is not None:
                snapshot["validation"] = self.validation_stats()
            self.send(channel.encode(channel.METRICS, snapshot))

    def close(self, timeout: float | None = None) -> None:
        self.flush()
        self.send_metrics()

    def stats(self) -> dict[str, Any]:
        return {}


class PipeFileSource:
    """A file's batches as the main process's reader sends them; the worker keeps its share of each."""

    live = False

    def __init__(self, conn: Connection, linktype: int, index: int, count: int, ring: RingView | None = None,
                 taken: Callable[[], None] | None = None) -> None:
        from .. import sharing

        self._conn = conn
        self._ring, self._taken = ring, taken  # the shared batches, and what gives a slot back (see ring.py)
        self._select = sharing.select
        self.linktype = linktype
        self.index, self.count = index, count
        self.description = f"worker {index} of {count}"
        self.last_ts: float | None = None
        self.ended = False
        self.engine: Any = None  # the worker Shipper's Engine: its clock follows every packet of the file
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        recv, select, linktype, index, count = self._conn.recv_bytes, self._select, self.linktype, self.index, self.count
        while not self._stop:
            try:
                meta = recv()
                end, last_ts = channel.read_end(meta)
                if end:
                    self.ended, self.last_ts = True, last_ts
                    if self.engine is not None and last_ts is not None:
                        # what is still open is flushed at the file's last packet, as in one process
                        self.engine.last_ts = last_ts
                    return
                place = channel.read_slot(meta)
                if place is None:
                    buf = recv()
                else:
                    assert self._ring is not None
                    meta, buf = self._ring.read(*place)
                    assert self._taken is not None
                    self._taken()
            except (EOFError, OSError):  # the reader went away (a stop): end as at the end of the file
                return
            mine = select(buf, meta, linktype, index, count)
            if self.engine is None:
                if mine:
                    yield buf, mine
                continue
            yield from self._with_clock(buf, meta, mine)

    def _with_clock(self, buf: bytes, meta: bytes, mine: bytes) -> Iterator[tuple[bytes, bytes]]:
        """`mine`, cut where another worker's packet is the first to reach the engine's next deadline: the
        engine then advances its clock to that packet's time, as a single process's would (flow expiry,
        reports, module timeouts and fragment expiry happen at the same moments and with the same time)."""
        engine = self.engine
        sec, usec, _off, _cap = META.unpack_from(meta, len(meta) - META.size)
        if sec + usec * 1e-6 < engine._next_deadline:  # the usual case: no deadline within the batch
            if mine:
                yield buf, mine
            return
        own = [record[2] for record in META.iter_unpack(mine)]  # offsets of this worker's packets
        done = 0  # records of `mine` handed out so far
        for sec, usec, off, _cap in META.iter_unpack(meta):
            ts = sec + usec * 1e-6
            if ts < engine._next_deadline:
                continue
            upto = bisect.bisect_left(own, off, done)
            if upto > done:  # this worker's packets before it come first (they may move the deadline)
                yield buf, mine[done * META.size:upto * META.size]
                done = upto
                if ts < engine._next_deadline:
                    continue
            if done < len(own) and own[done] == off:
                continue  # its own packet: the engine advances the clock itself
            flows = engine.flows
            if flows is not None and flows.next_sweep is None:
                flows.start_clock(ts)  # a single process's clock starts with the first flow of the file
            engine.advance(ts)
        if done < len(own):
            yield buf, mine[done * META.size:]

    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        self._conn.close()
        if self._ring is not None:
            self._ring.close()


class _ChannelLogHandler(logging.Handler):
    def __init__(self, publisher: ChannelPublisher) -> None:
        super().__init__()
        self._publisher = publisher

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self._publisher.send(channel.encode(channel.LOG, [record.levelno, record.name, record.getMessage()]))


def _die_with_parent(main_pid: int) -> None:
    """SIGKILL when the parent (the fork server, which ends with the main process) ends, however it
    ends: no orphan keeps capturing."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    try:
        os.kill(main_pid, 0)
    except ProcessLookupError:  # the main process ended before prctl took effect
        os._exit(1)
    except PermissionError:
        pass


def worker_main(spec: WorkerSpec, events: Connection, batches: Connection | None,
                ring: RingView | None = None) -> None:
    """The worker process's body (multiprocessing's target)."""
    _die_with_parent(spec.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches the whole group: main decides
    publisher = ChannelPublisher(events, spec.encoding, spec.config)
    root = logging.getLogger("packetshipper")
    root.handlers[:] = [_ChannelLogHandler(publisher)]
    root.setLevel(spec.log_level)
    root.propagate = False
    from ..capture import CaptureError
    from ..runner import Shipper

    config = spec.config
    source: PipeFileSource | None = None
    if batches is not None and spec.linktype is not None:
        source = PipeFileSource(batches, spec.linktype, spec.index, spec.count, ring,
                                lambda: publisher.send(channel.TAKEN))
    else:
        config["packetshipper"]["interfaces"]["fanout_group"] = spec.fanout_group
    try:
        shipper = Shipper(config, publisher=publisher, source=source)
    except CaptureError as exc:
        log.error("%s", exc)
        sys.exit(2)
    publisher.snapshot = shipper.metrics.snapshot
    shipper.batch_taps.append(publisher.tap)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: shipper.stop())
    if source is not None:
        source.engine = shipper.engine
    try:
        shipper.run()
    except CaptureError as exc:
        log.error("%s", exc)
        publisher.close()
        sys.exit(2)
    publisher.send(channel.DONE)
    events.close()

