"""The publisher the capture loop talks to: an event queue drained by an output worker thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..event import id_stamper
from ..outputs.base import Output
from .api import Publisher
from .consumer import OutputWorker
from .dead_letter import DeadLetterFile
from .queue_base import EventQueue

__all__ = ["QueuePublisher"]

log = logging.getLogger(__name__)

_STOP_GRACE = 1.0  # seconds a stopped worker gets to leave a network call before we stop waiting


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
    ) -> None:
        self.queue = queue
        self.output = output
        self.worker = worker
        self.dead_letter = dead_letter
        self.block = block
        self.validator = validator
        self._closed = False
        # Ids are stamped at put time, before the disk queue serializes the event: kept across retries
        # and restarts, and no module has to make one.
        self._stamp = id_stamper() if output.event_ids else None
        if validator is None and self._stamp is None:
            self.publish = self._put  # type: ignore[method-assign]  # skip a call on the hot path
        worker.start()

    def _put(self, event: dict[str, Any]) -> bool:
        return self.queue.put(event, self.block)

    def publish(self, event: dict[str, Any]) -> bool:
        if self.validator is not None and not self.validator(event):
            return False
        if self._stamp is not None:
            self._stamp(event)
        return self.queue.put(event, self.block)

    def close(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self.queue.close()
        finished = self.worker.join(timeout)
        if not finished:
            self.worker.stop()
            self.queue.stop()
            finished = self.worker.join(_STOP_GRACE)
        left = self.queue.pending()
        if left:
            log.warning("publisher closed with %d events not delivered (%s queue)", left,
                        self.queue.stats().get("type"))
        try:
            self.output.close()
        except Exception:
            log.exception("closing output %s failed", self.output.name)
        self.dead_letter.close()
        if finished:
            self.queue.release()

    def stats(self) -> dict[str, Any]:
        return {"queue": self.queue.stats(), "output": self.worker.stats()}
