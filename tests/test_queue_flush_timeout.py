"""Prompt delivery and bounded waits in the queues and the publisher.

Beats' `queue.mem.flush.timeout` is the longest a partial batch waits: with light traffic (far fewer
than `flush.min_events` events) an event still reaches the output within it. The disk queue has no
flush delay at all. At shutdown nothing waits past the deadline of a stop signal.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import BatchResult, Output, OutputError
from packetshipper.pipeline.consumer import OutputWorker, RetryPolicy
from packetshipper.pipeline.dead_letter import DeadLetterFile
from packetshipper.pipeline.publisher import QueuePublisher
from packetshipper.pipeline.queue_base import Batch, EventQueue
from packetshipper.pipeline.queue_disk import DiskQueue
from packetshipper.pipeline.queue_mem import MemoryQueue


def _get_in_thread(queue: EventQueue, max_events: int = 100) -> tuple[threading.Thread, list[Batch | None]]:
    got: list[Batch | None] = []
    consumer = threading.Thread(target=lambda: got.append(queue.get(max_events)), daemon=True)
    consumer.start()
    return consumer, got


def test_a_single_event_reaches_a_waiting_consumer_after_flush_timeout_with_beats_defaults():
    queue = MemoryQueue(max_events=3200, min_events=1600, flush_timeout=0.3)
    consumer, got = _get_in_thread(queue)
    consumer.join(0.1)
    assert consumer.is_alive()  # nothing queued yet
    queued_at = time.monotonic()
    queue.put({"id": 1}, block=False)
    consumer.join(10)
    assert not consumer.is_alive(), "the consumer slept past flush.timeout (it only woke at min_events)"
    assert got[0] is not None and got[0].events == [{"id": 1}]
    assert time.monotonic() - queued_at >= 0.3  # it did wait for more: min_events still makes batches


def test_flush_timeout_zero_hands_out_each_event_at_once():
    queue = MemoryQueue(max_events=100, min_events=1600, flush_timeout=0.0)
    consumer, got = _get_in_thread(queue)
    queue.put({"id": 1}, block=False)
    consumer.join(10)
    assert got and got[0] is not None and got[0].events == [{"id": 1}]


def test_min_events_waiting_are_handed_out_without_waiting_for_the_timeout():
    queue = MemoryQueue(max_events=100, min_events=5, flush_timeout=3600)
    consumer, got = _get_in_thread(queue, max_events=50)
    for i in range(5):
        queue.put({"id": i}, block=False)
    consumer.join(10)
    assert got and got[0] is not None and [e["id"] for e in got[0].events] == [0, 1, 2, 3, 4]


def test_what_a_batch_cap_leaves_behind_does_not_wait_another_flush_timeout():
    now = [0.0]
    queue = MemoryQueue(max_events=100, min_events=50, flush_timeout=1.0, clock=lambda: now[0])
    for i in range(5):
        queue.put({"id": i}, block=False)
    now[0] = 1.5  # all five have waited longer than flush.timeout
    first = queue.get(2)
    assert first is not None and [e["id"] for e in first.events] == [0, 1]
    consumer, got = _get_in_thread(queue, max_events=10)
    consumer.join(10)  # the clock stands still: a fresh flush.timeout for the rest would never end
    assert got and got[0] is not None and [e["id"] for e in got[0].events] == [2, 3, 4]


def test_disk_queue_hands_an_event_to_a_waiting_consumer_at_once(tmp_path: Path):
    queue = DiskQueue(str(tmp_path / "q"), 4 * 1024 * 1024, 256 * 1024)
    consumer, got = _get_in_thread(queue)
    consumer.join(0.1)
    assert consumer.is_alive()
    queue.put({"id": 1}, block=False)
    consumer.join(10)
    assert got and got[0] is not None and [e.decoded() for e in got[0].events] == [{"id": 1}]
    queue.close()
    queue.release()


def _blocked_put(queue: EventQueue, event: dict[str, Any]) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(queue.put(event, block=True)), daemon=True)
    producer.start()
    return producer, result


@pytest.mark.parametrize("kind", ["mem", "disk"])
def test_a_blocking_put_on_a_full_queue_gives_up_at_the_shutdown_deadline(tmp_path: Path, kind: str):
    queue: EventQueue
    if kind == "mem":
        queue = MemoryQueue(max_events=1)
    else:
        queue = DiskQueue(str(tmp_path / "q"), 1024 * 1024, 512 * 1024)
    event = {"pad": "x" * 200_000} if kind == "disk" else {"id": 0}
    while queue.put(event, block=False):
        pass  # fill it
    producer, result = _blocked_put(queue, event)
    producer.join(0.2)
    assert producer.is_alive()  # a file replay waits for room: nothing is lost while the output works
    queue.give_up_at(time.monotonic() + 0.2)
    producer.join(10)
    assert result == [False]
    assert queue.stats()["dropped"]["shutdown"] == 1


def test_acknowledgements_after_freeze_are_ignored_so_the_unsent_count_holds():
    queue = MemoryQueue(max_events=10, min_events=1)
    queue.put({"id": 1}, block=False)
    batch = queue.get(10)
    assert batch is not None
    queue.freeze()
    queue.ack(batch)
    assert queue.pending() == 1 and queue.stats()["unsent_at_stop"] == 1


class _DownOutput(Output):
    name = "down"
    settings: dict[str, Any] = {}

    def connect(self) -> None:
        raise OutputError("connection refused")

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        raise OutputError("connection refused")


class _HangingOutput(Output):
    """Accepts the batch and never returns, as a request to a server that never answers."""

    name = "hanging"
    settings: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__({})
        self.release = threading.Event()
        self.closed = False

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        self.release.wait()
        return BatchResult()

    def close(self) -> None:
        self.closed = True


def _publisher(output: Output, queue: EventQueue, tmp_path: Path) -> QueuePublisher:
    dead = DeadLetterFile(str(tmp_path / "dead.ndjson"), 1024 * 1024)
    worker = OutputWorker(queue, output, dead, RetryPolicy(bulk_max_size=50, max_retries=-1, backoff_init=0.05,
                                                           backoff_max=0.1))
    return QueuePublisher(queue, output, worker, dead, block=True)


def _close_in_thread(publisher: QueuePublisher) -> threading.Thread:
    closer = threading.Thread(target=publisher.close, daemon=True)  # no timeout: as at the end of -I file
    closer.start()
    return closer


@pytest.mark.parametrize("output_kind", ["down", "hanging"])
def test_close_without_timeout_waits_for_the_output_until_a_deadline_is_set(tmp_path: Path, output_kind: str):
    output: Output = _DownOutput({}) if output_kind == "down" else _HangingOutput()
    publisher = _publisher(output, MemoryQueue(max_events=100, min_events=1), tmp_path)
    for i in range(7):
        assert publisher.publish({"id": i})
    closer = _close_in_thread(publisher)
    closer.join(0.5)
    assert closer.is_alive()  # end of input with the output down: keep retrying, as Beats does
    publisher.shutdown_by(time.monotonic())  # then a stop signal with shutdown_timeout 0
    closer.join(10)
    assert not closer.is_alive()
    assert publisher.unsent() == (7, "dropped (memory queue)")
    assert publisher.stats()["queue"]["unsent_at_stop"] == 7
    if isinstance(output, _HangingOutput):
        output.release.set()


def test_close_keeps_the_unsent_events_of_a_disk_queue_for_the_next_run(tmp_path: Path):
    path = str(tmp_path / "q")
    output = _HangingOutput()
    publisher = _publisher(output, DiskQueue(path, 4 * 1024 * 1024, 256 * 1024), tmp_path)
    for i in range(4):
        publisher.publish({"id": i})
    publisher.shutdown_by(time.monotonic() + 0.2)
    publisher.close()
    count, fate = publisher.unsent()
    assert count == 4 and fate == f"4 kept in the disk queue {path} for the next run"
    output.release.set()  # the hung request returns after the count was taken: it must not ack
    time.sleep(0.2)
    assert publisher.queue.pending() == 4


class _WorkingOutput(Output):
    name = "working"
    settings: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__({})
        self.received: list[dict[str, Any]] = []

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        self.received.extend(events)
        return BatchResult()


def test_with_shutdown_timeout_zero_a_working_output_still_takes_what_is_queued(tmp_path: Path):
    output = _WorkingOutput()
    queue = MemoryQueue(max_events=1000, min_events=1600, flush_timeout=3600)  # nothing handed out yet
    publisher = _publisher(output, queue, tmp_path)
    for i in range(120):
        publisher.publish({"id": i})
    publisher.shutdown_by(time.monotonic())  # the deadline has passed already
    publisher.close()
    assert [e["id"] for e in output.received] == list(range(120))
    assert publisher.unsent() == (0, "everything delivered")
