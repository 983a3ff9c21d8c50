"""`packetshipper.workers: N` (N > 1): N worker processes, started, fed and watched by the main process.

The main process keeps what is not per packet: the publisher pipeline (queue, disk spool, retries, the
dead-letter file), monitoring, signals; the workers encode their events for it (ids and validation
included: see encoding.py) and it queues them as they come (inbox.py). For a file it
also runs the one reader: every `next_batch` is written once into the shared ring (ring.py) and each
worker is sent where it lies; each keeps its share with `sharing.select` (one call per batch; the
reader itself does nothing per packet).
Live, each worker opens its own AF_PACKET ring in one fanout group, and the kernel shares the packets out.

One thread (`_watch`) reads every worker's messages (event batches, metrics, log records) and notices a
worker that ends: unless a stop was asked for or the file was read to its end, it is started again (one
log line, counted; after a quick death, with a growing delay). Workers ignore SIGINT (a terminal sends it
to the whole group) and stop on the SIGTERM the supervisor sends them; they die with the main process
(PR_SET_PDEATHSIG), so none is ever left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from typing import Any

from .. import allocator
from ..afpacket import check_device
from ..capture import META, CaptureError, FileSource
from ..collector_pacing import CollectorPacing
from ..compat import identity_of
from ..decode.decoder import LINK_ETHERNET
from ..event import Envelope
from ..metrics import Metrics
from ..pipeline.api import Publisher
from . import channel
from . import ring as batch_ring
from .child import WorkerSpec, worker_main
from .inbox import Inbox
from .ring import BatchRing
from .stats import add_up

__all__ = ["Supervisor"]

log = logging.getLogger("packetshipper.workers")

_WATCH_INTERVAL = 0.2
_QUICK_DEATH = 2.0  # a worker that lived less than this is restarted after a delay, doubling up to _MAX_DELAY
_MAX_DELAY = 10.0
_PIPE_BYTES = 1 << 20
_CAPTURE_DROP_KEYS = ("kernel_received", "kernel_dropped", "interface_dropped", "kernel_queue_freezes")


@dataclass
class _Worker:
    index: int
    process: Any  # multiprocessing's SpawnProcess
    events: Connection
    batches: Connection | None
    free: threading.Semaphore | None  # files: its free ring slots, given back by its `T` messages; live: None
    started: float
    restarts: int
    snapshot: dict[str, Any] = field(default_factory=dict)
    exited: bool = False
    drained: bool = False
    done: bool = False  # sent DONE: its run ended and every event was sent
    ended_how: str = ""
    lived: float = 0.0


class _LiveGroup:
    """Stands for the capture in the main process when the workers capture: a description and stop()."""

    live = True
    linktype = LINK_ETHERNET  # what every worker's AF_PACKET ring holds

    def __init__(self, description: str) -> None:
        self.description = description

    def stop(self) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


class Supervisor:
    """What `Shipper` is to one process, for N workers: `run()`, `stop_by()`, `events`, `metrics`, ..."""

    def __init__(self, config: dict[str, Any], *, publisher: Publisher | None = None,
                 metrics: Metrics | None = None) -> None:
        from ..registry import build_modules
        from ..runner import open_source

        self.config = config
        ps = config["packetshipper"]
        self.count = int(ps["workers"])
        self.metrics = metrics or Metrics()
        iface = ps["interfaces"]
        self.live = not iface["file"]
        modules = build_modules(ps["protocols"])
        # Workers are forked by multiprocessing's fork server, a clean process started once that has
        # imported packetshipper already (the configured modules too): a worker starts (and restarts)
        # without paying for the imports, and never inherits this process's threads and their locks as
        # a plain fork would. Started now, it imports while this process opens the source and the output.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["packetshipper.workers.child", "packetshipper.runner",
                                              "packetshipper.registry",
                                              *sorted(name for name in sys.modules
                                                      if name.startswith("packetshipper.modules."))])
        forkserver.ensure_running()
        self.fanout_group: int | None = None
        self.source: FileSource | _LiveGroup
        if self.live:
            if iface["type"] != "af_packet":
                raise CaptureError("packetshipper.workers above 1 on a live interface needs "
                                   "packetshipper.interfaces.type: af_packet (a fanout group shares the packets out)")
            check_device(iface["device"])
            self.fanout_group = iface.get("fanout_group")
            if self.fanout_group is None:
                self.fanout_group = os.getpid() & 0xFFFF
            probe = open_source(config, modules)  # the device, the filter and the permissions, checked once here
            probe.close()
            self.source = _LiveGroup(f"interface {iface['device']} (af_packet, {self.count} workers, "
                                     f"fanout group {self.fanout_group})")
        else:
            source = open_source(config, modules)
            assert isinstance(source, FileSource)
            self.source = source
            self.source.description += f" ({self.count} workers)"
        if publisher is None:
            from ..pipeline import build_publisher

            publisher = build_publisher(config, self.metrics, live=self.live)
        self.publisher = publisher
        self._inbox = Inbox(publisher)
        self.envelope = Envelope(config["name"], config["tags"], config["fields"], config["fields_under_root"],
                                 identity_of(config).beat)
        self.events = 0
        self.batch_taps: list[Callable[[Iterator[tuple[bytes, bytes]]], Iterator[tuple[bytes, bytes]]]] = []
        self.shutdown_timeout = float(ps.get("shutdown_timeout", 0.0))
        self.flushing = False
        self.restarts = 0
        self._workers: list[_Worker | None] = [None] * self.count
        self._retired: dict[str, Any] = {}  # the last snapshots of the workers that were replaced, added up
        self._pending_restarts: dict[int, float] = {}  # index -> when
        self._changed = threading.Condition()
        self._stopping = False
        self._file_ended = False
        self._ring: BatchRing | None = None
        if not self.live:
            try:
                self._ring = BatchRing(int(ps["workers_queue"]), batch_ring.SLOT_BYTES)
            except OSError as exc:  # no memfd here (a sandbox's seccomp, say): the pipes carry every batch
                log.warning("no shared memory for the file's batches (%s); every worker is sent each one by pipe",
                            exc)
        self._reader_waits = 0  # times a batch waited for a worker to give a ring slot back
        self._collector = CollectorPacing()
        self._last_ts: float | None = None
        self._log_level = logging.getLogger("packetshipper").getEffectiveLevel()
        self._register_sections(ps, modules)

    # --- metrics --------------------------------------------------------------------------------------

    def _register_sections(self, ps: dict[str, Any], modules: list[Any]) -> None:
        self.metrics.register("capture", self._capture_stats)
        if ps["flows"]["enabled"]:
            self.metrics.register("flows", lambda: self._section("flows"))
        if modules:
            self.metrics.register("protocols", lambda: self._section("protocols"))
        if self.config.get("processors") or ps["flows"].get("processors") or any(
                entry.get("processors") for entry in ps["protocols"]):
            self.metrics.register("processors", lambda: self._section("processors"))
        self.metrics.register("workers", self._worker_stats)
        if self._inbox.encoding.validate:  # the workers validate: their counters, not the main publisher's
            self.metrics.register("validation", self._validation_stats)

    def _snapshots(self) -> list[dict[str, Any]]:
        with self._changed:
            return [self._retired, *(w.snapshot for w in self._workers if w is not None)]

    def _section(self, name: str) -> dict[str, Any]:
        return add_up(s.get(name) or {} for s in self._snapshots())

    def _capture_stats(self) -> dict[str, Any]:
        out = self._section("capture")
        out.update(self.source.stats())
        out["events"] = self.events
        return out

    def _validation_stats(self) -> dict[str, Any]:
        out = self._section("validation")
        cache = out.get("shape_cache")
        if cache:  # a limit of each worker's, not a count to add up
            cache["max_shapes"] = next(s["validation"]["shape_cache"]["max_shapes"] for s in self._snapshots()
                                       if "shape_cache" in (s.get("validation") or {}))
        return out

    def _worker_stats(self) -> dict[str, Any]:
        per_worker: dict[str, Any] = {}
        with self._changed:
            workers = list(self._workers)
        for index, worker in enumerate(workers):
            if worker is None:
                continue
            capture = worker.snapshot.get("capture") or {}
            entry = {"pid": worker.process.pid, "restarts": worker.restarts, "alive": not worker.exited,
                     "received": capture.get("received", 0),
                     "cpu_seconds": (worker.snapshot.get("worker") or {}).get("cpu_seconds", 0.0)}
            entry.update({key: capture[key] for key in _CAPTURE_DROP_KEYS if key in capture})
            per_worker[str(index)] = entry
        return {"count": self.count, "restarts": self.restarts, "per_worker": per_worker,
                "reader_waits": self._reader_waits}

    # --- processes ------------------------------------------------------------------------------------

    def _start(self, index: int, restarts: int) -> _Worker:
        context = self._context
        events_in, events_out = context.Pipe(duplex=False)
        batches_in, batches_out = context.Pipe(duplex=False) if not self.live else (None, None)
        free = threading.Semaphore(self._ring.slots) if self._ring is not None else None
        for pipe in (events_in, batches_out):  # room for a whole batch: fewer wake-ups on both sides
            if pipe is not None:
                with contextlib.suppress(OSError):
                    fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        linktype = None if self.live else self.source.linktype  # type: ignore[union-attr]
        spec = WorkerSpec(self.config, index, self.count, os.getpid(), self._log_level, linktype, self.fanout_group,
                          self._inbox.encoding)
        ring = self._ring.view() if self._ring is not None else None
        process = context.Process(target=worker_main, args=(spec, events_out, batches_in, ring),
                                  name=f"packetshipper-worker-{index}", daemon=True)
        process.start()
        events_out.close()
        if batches_in is not None:
            batches_in.close()
        return _Worker(index, process, events_in, batches_out, free, time.monotonic(), restarts)

    def _replace(self, old: _Worker) -> None:
        """Start a new worker in `old`'s place (called from the watch thread)."""
        with self._changed:
            if self._stopping or self._file_ended:
                return
            worker = self._start(old.index, old.restarts + 1)
            self._retired = add_up([self._retired, old.snapshot])
            self._workers[old.index] = worker
            self.restarts += 1
            self._changed.notify_all()
        log.warning("worker %d (pid %s) ended (%s) after %.1fs; restarted as pid %d (restart %d of this worker, "
                    "%d in all)", old.index, old.process.pid, old.ended_how, old.lived, worker.process.pid,
                    worker.restarts, self.restarts)

    def _ended(self, worker: _Worker) -> None:
        """A worker's process exited and its pipe is drained: done, or to be restarted."""
        worker.process.join(1.0)
        code = worker.process.exitcode
        if self._stopping:
            return
        how = f"killed by {_signal_name(-code)}" if code is not None and code < 0 else f"exit status {code}"
        lived = time.monotonic() - worker.started
        if self._file_ended:  # nothing left to give a new one: what this one held, if anything, is lost
            if not worker.done:
                log.warning("worker %d (pid %s) ended (%s) after %.1fs, after the end of the file; not restarted",
                            worker.index, worker.process.pid, how, lived)
            return
        delay = 0.0 if lived >= _QUICK_DEATH else min(_MAX_DELAY, 0.5 * 2 ** min(worker.restarts, 5))
        worker.ended_how, worker.lived = how, lived  # logged with the restart, in one line
        with self._changed:
            self._pending_restarts[worker.index] = time.monotonic() + delay

    def _watch(self) -> None:
        try:
            self._watch_workers()
        except Exception as exc:  # a bug here must not leave the reader and the workers waiting forever
            log.error("supervising the workers failed (%s: %s); stopping them all", type(exc).__name__, exc)
            self.stop()
            for worker in list(self._workers):
                if worker is not None:
                    worker.process.join(self.shutdown_timeout + 1.0)
                    if worker.process.is_alive():
                        worker.process.kill()

    def _watch_workers(self) -> None:
        """Reads every worker's messages until all have ended and none is to be restarted."""
        while True:
            self._collector.poll()
            with self._changed:
                workers = [w for w in self._workers if w is not None]
                pending = dict(self._pending_restarts)
            now = time.monotonic()
            for index, when in pending.items():
                if when <= now:
                    with self._changed:
                        self._pending_restarts.pop(index, None)
                    old = self._workers[index]
                    if old is not None and not self._stopping:
                        self._replace(old)
            active = [w for w in workers if not (w.exited and w.drained)]
            if not active and not self._pending_restarts:
                return
            waitables: dict[Any, tuple[_Worker, bool]] = {}
            for worker in active:
                if not worker.drained:
                    waitables[worker.events] = (worker, True)
                if not worker.exited:
                    waitables[worker.process.sentinel] = (worker, False)
            for ready in wait(list(waitables), _WATCH_INTERVAL):
                worker, is_pipe = waitables[ready]
                if is_pipe:
                    self._receive(worker)
                else:
                    worker.exited = True
                if worker.exited and worker.drained:
                    self._ended(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            message = channel.receive(worker.events)
        except (EOFError, OSError):
            worker.drained = True
            worker.events.close()
            return
        try:
            if message[:1] == channel.EVENTS:
                self.events += self._inbox.events(message)
                return
            if message == channel.TAKEN:
                if worker.free is not None:
                    worker.free.release()
                return
            kind, body = channel.decode(message)
            if kind == channel.UNENCODABLE:
                self._inbox.unencodable(body)
                return
        except ValueError as exc:  # cannot happen between our own processes; never a traceback if it does
            log.error("worker %d sent a message that cannot be read (%s); ignored", worker.index, exc)
            return
        if kind == channel.METRICS:
            worker.snapshot = body
        elif kind == channel.LOG:
            level, name, text = body
            logging.getLogger(name).log(level, "worker %d: %s", worker.index, text)
        elif kind == channel.DONE:
            worker.done = True

    # --- the run --------------------------------------------------------------------------------------

    def run(self, close_publisher: bool = True) -> Any:
        from ..runner import RunSummary

        if self.live and self.batch_taps:  # -O, --dump: each worker has its own capture, none passes here
            raise CaptureError("-O and --dump need the packets in one process: not with packetshipper.workers "
                               "above 1 on a live interface")
        started = time.monotonic()
        # As in one process (Shipper.run): this process's queue holds many events at once, and the
        # automatic collector traversed them all again at every few hundred allocations.
        allocator.tune()
        self._collector.start()
        for index in range(self.count):
            self._workers[index] = self._start(index, 0)
        watcher = threading.Thread(target=self._watch, name="workers", daemon=True)
        watcher.start()
        try:
            if self.live:
                while watcher.is_alive() and not self._stopping:
                    watcher.join(_WATCH_INTERVAL)
            else:
                self._read_file()
        finally:
            self.flushing = True
            try:
                self._end_batches()
                watcher.join()
            finally:
                self.flushing = False
                self.source.close()
                if self._ring is not None:
                    self._ring.close()
                try:
                    if close_publisher:
                        self.publisher.close()
                finally:
                    self._collector.stop()
        stats = self.metrics.snapshot()
        packets = int((stats.get("capture") or {}).get("received", 0))
        return RunSummary(packets, self.events, time.monotonic() - started, stats)

    def _read_file(self) -> None:
        """The one reader: every batch is written once into the shared ring (a slot every worker has
        given back) and each worker is sent where it lies; a batch too big for a slot is sent whole."""
        assert isinstance(self.source, FileSource)
        ring = self._ring
        batches = self.source.batches()
        for tap in self.batch_taps:
            batches = tap(batches)
        for buf, meta in batches:
            sec, usec, _off, _cap = META.unpack_from(meta, len(meta) - META.size)
            self._last_ts = sec + usec * 1e-6
            if ring is None or not ring.fits(meta, buf):
                for index in range(self.count):
                    self.send(index, meta, buf)
                continue
            claimed = [self._claim_slot(index) for index in range(self.count)]
            if self._stopping:
                return
            message = channel.slot_message(*ring.write(meta, buf))
            for index, worker in enumerate(claimed):
                if worker is not None:
                    self.send(index, message, claimed=worker)

    def _claim_slot(self, index: int) -> _Worker | None:
        """Takes a ring slot from worker `index`'s semaphore (waiting while it holds them all); the worker
        it was taken from, or None if there is none to give the batch to."""
        waited = False
        while not self._stopping:
            worker = self._workers[index]
            assert worker is not None and worker.free is not None
            if worker.free.acquire(False) or worker.free.acquire(True, _WATCH_INTERVAL):
                return worker
            if not waited:
                waited = True
                self._reader_waits += 1
            if worker.exited and not self._replaced(index, worker):
                return None
        return None

    def _replaced(self, index: int, worker: _Worker) -> bool:
        """Waits until worker `index` (which died) has been replaced: False if none will be."""
        with self._changed:
            while self._workers[index] is worker and not self._stopping and not self._file_ended:
                self._changed.wait(_WATCH_INTERVAL)
            return self._workers[index] is not worker and not self._stopping

    def send(self, index: int, *messages: bytes, claimed: _Worker | None = None) -> None:
        """To worker `index`; if it died, to the one that replaces it (what the dead one held is lost).
        `claimed`: for a ring slot's place, the worker the slot was taken from; one that replaced it takes
        a slot of its own first (it gives one back when it has read this one)."""
        while not self._stopping:
            worker = self._workers[index]
            assert worker is not None and worker.batches is not None
            if claimed is not None and worker is not claimed:
                claimed = self._claim_slot(index)
                if claimed is None:
                    return
                continue
            try:
                for message in messages:
                    worker.batches.send_bytes(message)
                return
            except OSError:  # it died: wait for its replacement (none comes once the file has ended)
                if not self._replaced(index, worker):
                    return

    def _end_batches(self) -> None:
        """Tell every worker the file ended (or the read stopped), then close their batch pipes."""
        if self.live:
            return
        with self._changed:  # from now on a worker that ends is not replaced: none will get more batches
            self._file_ended = True
        marker = channel.end_of_file(self._last_ts)
        for index in range(self.count):
            self.send(index, marker)
        with self._changed:
            workers = list(self._workers)
        for worker in workers:
            if worker is not None and worker.batches is not None:
                worker.batches.close()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._pending_restarts.clear()
            self._changed.notify_all()
        self.source.stop()
        for worker in list(self._workers):
            if worker is not None and not worker.exited:
                with contextlib.suppress(OSError, ValueError):
                    os.kill(worker.process.pid, signal.SIGTERM)

    def stop_by(self, deadline: float) -> None:
        """As Shipper.stop_by: the capture stops now (every worker flushes), the output may deliver until
        `deadline`. Thread-safe."""
        self.stop()
        self.publisher.shutdown_by(deadline)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
