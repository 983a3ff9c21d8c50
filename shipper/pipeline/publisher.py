"""The publisher the capture loop talks to: an event queue drained by an output worker thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..event import EVENT_ID_KEY, id_stamper
from ..outputs.base import Output
from ..outputs.encoded import EncodedEvent, EncodeError, EventCodec, encoded_batch
from .api import Publisher
from .consumer import OutputWorker
from .dead_letter import DeadLetterFile
from .queue_base import EventQueue
from .queue_disk import DiskQueue

__all__ = ["QueuePublisher", "call_within"]

log = logging.getLogger(__name__)

_STOP_GRACE = 0.5  # seconds a stopped worker gets to deliver what is queued or leave an output call
_POLL = 0.1  # how often a waiting close() looks for a shutdown deadline set meanwhile
_TELL_AFTER = 1.0  # seconds of waiting at the end of the input before saying what for


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def call_within(work: Callable[[], None], seconds: float, name: str) -> None:
    """Run `work` in a daemon thread and wait for it at most `seconds`: at shutdown, nothing may hang."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        log.warning("%s did not finish within %.1fs; not waiting for it", name, seconds)


class QueuePublisher(Publisher):
    """`publish` only queues (or drops, counted, when full in drop mode); the worker does all I/O."""

    def __init__(
        self,
        queue: EventQueue,
        output: Output,
        worker: OutputWorker,
        dead_letter: DeadLetterFile,
        *,
        block: bool,
        validator: Callable[[dict[str, Any]], bool] | None = None,
        codec: EventCodec | None = None,
    ) -> None:
        self.queue = queue
        self.output = output
        self.worker = worker
        self.dead_letter = dead_letter
        self.block = block
        self.validator = validator
        self.codec = codec if codec is not None else output.codec()
        self._encode = self.codec.encode
        self._closed = False
        self._deadline: float | None = None
        # Ids are stamped at put time, before the disk queue serializes the event: kept across retries
        # and restarts, and no module has to make one.
        self._stamp = id_stamper() if output.event_ids else None
        if validator is None and self._stamp is None:
            self.publish = self._put  # type: ignore[method-assign]  # skip a call on the hot path
        worker.start()

    def _put(self, event: dict[str, Any]) -> bool:
        try:
            return self.queue.put(self._encode(event), self.block)
        except EncodeError as exc:
            return self._unencodable(event, exc)

    def publish(self, event: dict[str, Any]) -> bool:
        """Validate (if enabled), stamp the id (if the output wants one), encode, queue."""
        if self.validator is not None and not self.validator(event):
            return False
        if self._stamp is not None:
            self._stamp(event)
        try:
            return self.queue.put(self._encode(event), self.block)
        except EncodeError as exc:
            return self._unencodable(event, exc)

    def publish_encoded_many(self, events: list[EncodedEvent]) -> int:
        """Queue events encoded elsewhere (a worker process's batch) by this publisher's `codec` rules,
        under one lock: their `paths` must cover `codec.paths` (fields missing are read again), and each
        carries its own `@metadata._id` if the output wants one. How many were queued."""
        codec = self.codec
        if not codec.paths:  # every event has all of none: `ready` would return each as it is
            return self.queue.put_many(events, self.block)
        ready = codec.ready
        return self.queue.put_many([ready(event) for event in events], self.block)

    def _unencodable(self, event: dict[str, Any], exc: EncodeError) -> bool:
        return self.unencodable(event, f"cannot encode as JSON: {exc}")

    def unencodable(self, event: dict[str, Any], reason: str) -> bool:
        """JSON cannot express the event (here or in a worker process): counted
        (queue.dropped.encode_error) and dead-lettered."""
        self.queue.count_drop("encode_error")
        self.dead_letter.write(event, reason)
        return False

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then release everything. Without `timeout` and without a
        `shutdown_by` deadline this waits as long as the output needs (`-I file` with the output down
        keeps retrying, as Beats does); a deadline set meanwhile, from another thread, still applies."""
        if self._closed:
            return
        self._closed = True
        self.queue.close()
        limit = None if timeout is None else time.monotonic() + timeout
        finished = self._wait_for_worker(limit)
        if not finished:
            # Out of time: no more retries, but a working output still takes what is queued (briefly).
            self.worker.stop()
            finished = self.worker.join(_STOP_GRACE)
            if not finished:  # stuck in an output call: abandon it (a daemon thread) and its batch
                self.queue.stop()
        self.queue.freeze()  # an ack arriving after this would make the unsent count wrong
        if finished:
            self._close_output()
        else:  # the worker is stuck in a network call: closing its connection could block as long
            call_within(self._close_output, _STOP_GRACE, f"output-{self.output.name}-close")
        self.dead_letter.close()
        if finished:
            self.queue.release()

    def _wait_for_worker(self, limit: float | None) -> bool:
        """Join the worker until `limit` or the shutdown deadline, whichever comes first."""
        told = False
        started = time.monotonic()
        while True:
            deadline = _earliest(limit, self._deadline)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return self.worker.join(0)
            step = _POLL if deadline is None else min(_POLL, deadline - now)
            if self.worker.join(step):
                return True
            if not told and limit is None and self._deadline is None and time.monotonic() - started >= _TELL_AFTER:
                told = True
                log.info("input finished; waiting for output %s to take the %d queued events "
                         "(no time limit until SIGINT/SIGTERM, then packetshipper.shutdown_timeout)",
                         self.output.name, self.queue.pending())

    def _close_output(self) -> None:
        try:
            self.output.close()
        except Exception:
            log.exception("closing output %s failed", self.output.name)

    def shutdown_by(self, deadline: float) -> None:
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline
        self.queue.give_up_at(self._deadline)

    def unsent(self) -> tuple[int, str]:
        queued = self.queue.pending()
        refused = self.queue.stats()["dropped"].get("shutdown", 0)
        if not queued + refused:
            return 0, "everything delivered"
        detail = f", {refused} of them refused at shutdown as the queue was full" if refused else ""
        if isinstance(self.queue, DiskQueue):
            return queued + refused, f"{queued} kept in the disk queue {self.queue.path} for the next run{detail}"
        return queued + refused, f"dropped (memory queue{detail})"

    def stats(self) -> dict[str, Any]:
        return {"queue": self.queue.stats(), "output": self.worker.stats()}

    def document_sink(self, fields: frozenset[str]) -> Callable[[Sequence[bytes], Mapping[str, Any]], int] | None:
        if self.validator is not None or not self.codec.paths <= fields:
            return None
        put, put_many, block, paths = self.queue.put, self.queue.put_many, self.block, self.codec.paths
        next_id = self._stamp.next_id if self._stamp is not None else None

        def sink(docs: Sequence[bytes], values: Mapping[str, Any]) -> int:
            routed = {path: values[path] for path in paths if path in values} if paths else None
            if len(docs) == 1:  # a transaction's event: as `publish` queues one
                meta = None if next_id is None else {EVENT_ID_KEY: next_id()}
                return 1 if put(EncodedEvent(docs[0], meta, routed, paths), block) else 0
            return put_many(encoded_batch(docs, routed, paths, next_id, EVENT_ID_KEY), block)

        return sink
