"""Retry with backoff, `max_retries`, per-event results and the dead-letter file."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import BatchResult, Output, OutputError
from packetshipper.pipeline.backoff import Backoff
from packetshipper.pipeline.consumer import OutputWorker, RetryPolicy
from packetshipper.pipeline.dead_letter import DeadLetterFile
from packetshipper.pipeline.publisher import QueuePublisher
from packetshipper.pipeline.queue_mem import MemoryQueue

Step = Callable[[list[dict[str, Any]]], BatchResult]


class ScriptedOutput(Output):
    """Answers each publish_batch with the next scripted step; then acknowledges everything."""

    name = "scripted"
    settings = {}

    def __init__(self, steps: list[Step | Exception], connect_failures: int = 0) -> None:
        super().__init__({})
        self.steps = list(steps)
        self.connect_failures = connect_failures
        self.calls: list[list[int]] = []
        self.delivered: list[int] = []

    def connect(self) -> None:
        if self.connect_failures:
            self.connect_failures -= 1
            raise OutputError("connection refused")

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        self.calls.append([e["id"] for e in events])
        step = self.steps.pop(0) if self.steps else (lambda _events: BatchResult())
        if isinstance(step, Exception):
            raise step
        result = step(events)
        left_out = set(result.retry) | {i for i, _ in result.dead}
        self.delivered += [e["id"] for i, e in enumerate(events) if i not in left_out]
        return result


def _run(output: ScriptedOutput, events: int, tmp_path: Path, max_retries: int = 3,
         bulk_max_size: int = 100) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    queue = MemoryQueue(max_events=1000)
    dead = DeadLetterFile(str(tmp_path / "dead.ndjson"), max_size=10**6)
    worker = OutputWorker(queue, output, dead, RetryPolicy(bulk_max_size, max_retries, 0.001, 0.004),
                          random.Random(7))
    publisher = QueuePublisher(queue, output, worker, dead, block=True)
    for i in range(events):
        assert publisher.publish({"id": i})
    publisher.close(timeout=20)
    path = tmp_path / "dead.ndjson"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return publisher.stats(), lines


def test_backoff_doubles_with_equal_jitter_up_to_max_and_resets():
    backoff = Backoff(1.0, 4.0, random.Random(1))
    steps = [1.0, 2.0, 4.0, 4.0, 4.0]
    for step in steps:
        wait = backoff.next_wait()
        assert step / 2 <= wait <= step
    backoff.reset()
    assert 0.5 <= backoff.next_wait() <= 1.0


def test_batch_failing_every_time_is_retried_max_retries_times_then_dead_lettered(tmp_path: Path):
    output = ScriptedOutput([OutputError("HTTP 503 from the receiver")] * 10)
    stats, dead = _run(output, 3, tmp_path, max_retries=3)
    assert output.calls == [[0, 1, 2]] * 4  # the first attempt and 3 retries
    assert output.delivered == []
    assert [line["event"] for line in dead] == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert {line["reason"] for line in dead} == {"gave up after 4 failed attempts: HTTP 503 from the receiver"}
    assert all(line["@timestamp"].endswith("Z") for line in dead)
    events = stats["output"]["events"]
    assert events == {"total": 12, "acked": 0, "duplicates": 0, "failed": 12, "retried": 9, "given_up": 3,
                      "rejected": 0}
    assert stats["output"]["dead_letter"]["written"] == 3
    assert stats["queue"]["acked"] == 3 and stats["queue"]["events"] == 0


def test_max_retries_minus_one_retries_until_it_works(tmp_path: Path):
    output = ScriptedOutput([OutputError("down")] * 12)
    stats, dead = _run(output, 2, tmp_path, max_retries=-1)
    assert len(output.calls) == 13
    assert output.delivered == [0, 1]
    assert dead == [] and stats["output"]["events"]["acked"] == 2


def test_only_the_events_the_receiver_asks_for_are_sent_again(tmp_path: Path):
    def first(events: list[dict[str, Any]]) -> BatchResult:
        return BatchResult(retry=[1, 3], dead=[(2, "400 mapper_parsing_exception")])

    output = ScriptedOutput([first])
    stats, dead = _run(output, 5, tmp_path)
    assert output.calls == [[0, 1, 2, 3, 4], [1, 3]]
    assert sorted(output.delivered) == [0, 1, 3, 4]
    assert dead == [{"event": {"id": 2}, "reason": "400 mapper_parsing_exception", "@timestamp": dead[0]["@timestamp"]}]
    assert stats["output"]["events"]["rejected"] == 1
    assert stats["output"]["events"]["acked"] == 4
    assert stats["output"]["events"]["retried"] == 2


def test_duplicates_count_as_acknowledged(tmp_path: Path):
    output = ScriptedOutput([lambda events: BatchResult(duplicates=2)])
    stats, _ = _run(output, 4, tmp_path)
    assert stats["output"]["events"]["acked"] == 4 and stats["output"]["events"]["duplicates"] == 2


def test_an_unreachable_receiver_does_not_use_up_retries(tmp_path: Path):
    output = ScriptedOutput([], connect_failures=25)
    stats, dead = _run(output, 3, tmp_path, max_retries=0)
    assert output.delivered == [0, 1, 2] and dead == []
    assert stats["output"]["connect_failures"] == 25


def test_an_output_bug_is_counted_and_treated_as_a_failed_batch(tmp_path: Path):
    output = ScriptedOutput([KeyError("oops")])
    stats, dead = _run(output, 1, tmp_path)
    assert output.delivered == [0] and dead == []
    assert stats["output"]["unexpected_errors"] == 1 and stats["output"]["batches"]["failed"] == 1


def test_result_indexes_out_of_range_are_ignored_and_counted(tmp_path: Path):
    output = ScriptedOutput([lambda events: BatchResult(retry=[0, 99], dead=[(-1, "?")])])
    stats, _ = _run(output, 2, tmp_path)
    assert sorted(output.delivered) == [0, 1]
    assert stats["output"]["invalid_results"] == 1


def test_batches_are_at_most_bulk_max_size(tmp_path: Path):
    output = ScriptedOutput([])
    _run(output, 25, tmp_path, bulk_max_size=10)
    assert all(len(call) <= 10 for call in output.calls)
    assert sorted(output.delivered) == list(range(25))


def test_dead_letter_file_stops_at_its_size_limit_and_counts(tmp_path: Path):
    dead = DeadLetterFile(str(tmp_path / "d" / "dead.ndjson"), max_size=150)
    assert dead.write({"id": 1}, "rejected", now=0.0)
    line = (tmp_path / "d" / "dead.ndjson").read_bytes()
    assert json.loads(line) == {"event": {"id": 1}, "reason": "rejected", "@timestamp": "1970-01-01T00:00:00.000000Z"}
    assert dead.write({"id": 2}, "x" * 100) is False
    assert dead.stats()["dropped"]["over_limit"] == 1 and dead.stats()["written"] == 1
    dead.close()


def test_disabled_dead_letter_counts_what_it_could_not_keep():
    dead = DeadLetterFile(None, max_size=100)
    assert dead.write({"id": 1}, "gave up") is False
    assert dead.stats()["dropped"]["disabled"] == 1


def test_dead_letter_keeps_events_json_cannot_express(tmp_path: Path):
    dead = DeadLetterFile(str(tmp_path / "dead.ndjson"), max_size=10**6)
    assert dead.write({"raw": b"\xff"}, "cannot encode as JSON", now=0.0)
    assert json.loads((tmp_path / "dead.ndjson").read_text())["event"] == {"raw": "b'\\xff'"}


@pytest.mark.parametrize(("init", "maximum"), [(0.0, 1.0), (2.0, 1.0)])
def test_backoff_rejects_impossible_bounds(init: float, maximum: float):
    with pytest.raises(ValueError):
        Backoff(init, maximum)
