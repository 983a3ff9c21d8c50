"""The output worker: takes batches from the queue, delivers them, retries with backoff, dead-letters.

Runs in its own thread, so the capture loop never waits on the network. A batch is acknowledged to the
queue only when every event in it has been delivered or dead-lettered; that is the at-least-once rule.

Retries follow Beats: a failed `connect()` (receiver unreachable) does not use up an event's retries,
it only waits and tries again; a failed `publish_batch` does. After `max_retries` retries (-1: never
give up) the events still pending are given up on and written to the dead-letter file.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..debuglog import batch_done
from ..outputs.base import BatchResult, Output, OutputError
from ..outputs.encoded import EncodedEvent
from .backoff import Backoff
from .dead_letter import DeadLetterFile
from .queue_base import Batch, EventQueue

__all__ = ["RetryPolicy", "OutputWorker"]

log = logging.getLogger(__name__)

RETRY_REASON = "receiver asked to retry the event"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    bulk_max_size: int
    max_retries: int  # -1: retry forever
    backoff_init: float
    backoff_max: float


def _as_dict(event: Any) -> Any:
    """What an output written for dicts (`accepts_encoded` False) is given."""
    return event.decoded() if isinstance(event, EncodedEvent) else event


class OutputWorker:
    def __init__(
        self,
        queue: EventQueue,
        output: Output,
        dead_letter: DeadLetterFile,
        policy: RetryPolicy,
        rng: random.Random | None = None,
    ) -> None:
        self._queue = queue
        self._output = output
        self._dead_letter = dead_letter
        self._policy = policy
        self._backoff = Backoff(policy.backoff_init, policy.backoff_max, rng)
        self._stopping = threading.Event()
        self._connected = False
        self._thread = threading.Thread(target=self._run, name=f"output-{output.name}", daemon=True)
        self.batches = 0
        self.batches_failed = 0
        self.events_total = 0
        self.acked = 0
        self.duplicates = 0
        self.failed = 0
        self.retried = 0
        self.given_up = 0
        self.rejected = 0
        self.connect_failures = 0
        self.invalid_results = 0
        self.unexpected_errors = 0

    # --- thread control ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None) -> bool:
        """Wait for the worker to finish; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """No more waiting: interrupt a backoff wait and retry nothing; each batch still queued gets one
        attempt (a working output delivers it), a failed one is left unacknowledged."""
        self._stopping.set()

    def _run(self) -> None:
        try:
            while True:
                batch = self._queue.get(self._policy.bulk_max_size)
                if batch is None:
                    return
                if not self._deliver(batch):
                    return
                self._queue.ack(batch)
        except Exception:
            log.exception("output worker for %s stopped by an unexpected error", self._output.name)
            self.unexpected_errors += 1
            self._queue.stop()  # or a blocked publisher would wait forever

    # --- delivery ------------------------------------------------------------------------------

    def _deliver(self, batch: Batch) -> bool:
        """Deliver or dead-letter every event of `batch`; False if stopped first."""
        events = batch.events
        sendable = events if self._output.accepts_encoded else [_as_dict(e) for e in events]
        pending = list(range(len(events)))
        failures = 0
        while pending:
            if not self._connected:
                problem = self._connect()
                if problem is not None:
                    if self._wait(f"cannot connect: {problem}"):
                        return False
                    continue
            retry, reason = self._attempt(sendable if len(pending) == len(events) else [sendable[i] for i in pending])
            if not retry:
                self._backoff.reset()
                return True
            pending = [pending[i] for i in retry]
            failures += 1
            self.failed += len(pending)
            if 0 <= self._policy.max_retries < failures:
                self.given_up += len(pending)
                why = f"gave up after {failures} failed attempts: {reason}"
                log.warning("output %s: %d events %s; they go to the dead-letter file", self._output.name,
                            len(pending), why)
                for index in pending:
                    self._dead_letter.write(events[index], why)
                return True
            self.retried += len(pending)
            if self._wait(f"{len(pending)} of {len(events)} events to send again: {reason}"):
                return False
        return True

    def _connect(self) -> str | None:
        """None once connected, else what went wrong."""
        try:
            self._output.connect()
        except Exception as exc:  # OutputError expected; anything else is an output bug, treated alike
            self.connect_failures += 1
            if not isinstance(exc, OutputError):
                self.unexpected_errors += 1
            return str(exc) or type(exc).__name__
        self._connected = True
        return None

    def _attempt(self, events: list[Any]) -> tuple[list[int], str]:
        """One publish_batch call; the indexes (into `events`) to try again and why."""
        self.batches += 1
        self.events_total += len(events)
        started = time.monotonic()
        try:
            result = self._output.publish_batch(events)
        except Exception as exc:
            self.batches_failed += 1
            self._connected = False
            if not isinstance(exc, OutputError):
                self.unexpected_errors += 1
                log.exception("output %s raised an unexpected error", self._output.name)
            return list(range(len(events))), str(exc) or type(exc).__name__
        retry, dead = self._checked(result, len(events))
        for index, why in dead.items():
            self.rejected += 1
            self._dead_letter.write(events[index], why)  # a dict for an output that takes dicts
        duplicates = min(max(0, result.duplicates), len(events) - len(retry) - len(dead))
        self.duplicates += duplicates
        self.acked += len(events) - len(retry) - len(dead)
        batch_done(self._output.name, len(events), len(retry), len(dead), duplicates, started)  # -d publisher
        return retry, RETRY_REASON

    def _checked(self, result: BatchResult, size: int) -> tuple[list[int], dict[int, str]]:
        """The result's indexes, without any an output got wrong (out of range, repeated)."""
        retry = sorted({i for i in result.retry if isinstance(i, int) and 0 <= i < size})
        retry_set = set(retry)
        dead: dict[int, str] = {}
        for index, why in result.dead:
            if isinstance(index, int) and 0 <= index < size and index not in retry_set and index not in dead:
                dead[index] = str(why)
        if len(retry) != len(result.retry) or len(dead) != len(result.dead):
            self.invalid_results += 1
            log.error("output %s returned a batch result with invalid indexes", self._output.name)
        return retry, dead

    def _wait(self, why: str) -> bool:
        """Say what delivery is waiting for, then back off; True if told to stop meanwhile.

        One warning per failed attempt, so at least one per backoff interval while the output is down."""
        if self._stopping.is_set():  # the publisher's last log line counts what is left
            log.warning("output %s: %s; stopping, no retry", self._output.name, why)
            return True
        delay = self._backoff.next_wait()
        log.warning("output %s: %s; %d events waiting, next attempt in %.1fs", self._output.name, why,
                    self._queue.pending(), delay)
        return self._stopping.wait(delay)

    def stats(self) -> dict[str, Any]:
        client = dict(self._output.stats)
        return {
            "type": self._output.name,
            "batches": {"total": self.batches, "failed": self.batches_failed},
            "events": {
                "total": self.events_total,
                "acked": self.acked,
                "duplicates": self.duplicates,
                "failed": self.failed,
                "retried": self.retried,
                "given_up": self.given_up,
                "rejected": self.rejected,
            },
            "connect_failures": self.connect_failures,
            "invalid_results": self.invalid_results,
            "unexpected_errors": self.unexpected_errors,
            "write": {
                "bytes": client.get("bytes", client.get("bytes_written", 0)),
                "errors": client.get("errors", 0),
            },
            # Beats' output.read.errors: the request went out but its answer was lost (reset, timeout).
            "read": {"errors": client.get("read_errors", 0)},
            "dead_letter": self._dead_letter.stats(),
            "client": client,
        }
