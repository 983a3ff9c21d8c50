"""The publisher encodes each event once, as it queues it: what JSON cannot express is dead-lettered and
counted at once; an output written for dicts still gets dicts; schema validation, when on, checks each
distinct event shape once."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from packetshipper.outputs.base import BatchResult, Output
from packetshipper.outputs.encoded import EncodedEvent, EventCodec
from packetshipper.pipeline.consumer import OutputWorker, RetryPolicy
from packetshipper.pipeline.dead_letter import DeadLetterFile
from packetshipper.pipeline.publisher import QueuePublisher
from packetshipper.pipeline.queue_mem import MemoryQueue
from packetshipper.pipeline.validation import EventValidator, ShapeCache, event_shape


class Recording(Output):
    name = "recording"
    settings = {}

    def __init__(self, encoded: bool, fields: frozenset[str] = frozenset()) -> None:
        super().__init__({})
        self.accepts_encoded = encoded  # type: ignore[misc]
        self._fields = fields
        self.batches: list[list[Any]] = []

    def fields_used(self) -> frozenset[str]:
        return self._fields

    def publish_batch(self, events: list[Any]) -> BatchResult:
        self.batches.append(list(events))
        return BatchResult()


def _publisher(output: Output, tmp_path: Path, validator: Any = None) -> QueuePublisher:
    queue = MemoryQueue(max_events=100)
    dead = DeadLetterFile(str(tmp_path / "dead.ndjson"), 10**6)
    worker = OutputWorker(queue, output, dead, RetryPolicy(50, 3, 0.001, 0.002), random.Random(1))
    return QueuePublisher(queue, output, worker, dead, block=True, validator=validator)


def test_an_event_json_cannot_express_is_dead_lettered_and_counted_at_publish(tmp_path: Path):
    output = Recording(encoded=True)
    publisher = _publisher(output, tmp_path)
    assert publisher.publish({"id": 1, "raw": b"\x00\x01"}) is False
    assert publisher.publish({"id": 2}) is True
    publisher.close(timeout=10)
    assert publisher.stats()["queue"]["dropped"]["encode_error"] == 1
    (line,) = (tmp_path / "dead.ndjson").read_text().splitlines()
    record = json.loads(line)
    assert record["event"]["id"] == 1 and record["reason"].startswith("cannot encode as JSON")
    assert [[e.doc for e in batch] for batch in output.batches] == [[b'{"id":2}']]


def test_an_output_written_for_dicts_gets_the_event_with_its_metadata(tmp_path: Path):
    output = Recording(encoded=False)
    publisher = _publisher(output, tmp_path)
    publisher.publish({"type": "dns", "@metadata": {"_id": "x"}, "n": 1})
    publisher.close(timeout=10)
    assert output.batches == [[{"type": "dns", "n": 1, "@metadata": {"_id": "x"}}]]


def test_the_routing_fields_travel_with_the_bytes_and_publish_encoded_tops_them_up(tmp_path: Path):
    output = Recording(encoded=True, fields=frozenset({"dns.question.name"}))
    publisher = _publisher(output, tmp_path)
    publisher.publish({"type": "dns", "dns": {"question": {"name": "example.com"}}})
    elsewhere = EventCodec().encode({"type": "dns", "dns": {"question": {"name": "other.org"}}})
    assert publisher.publish_encoded_many([elsewhere]) == 1
    publisher.close(timeout=10)
    events: list[EncodedEvent] = [e for batch in output.batches for e in batch]
    assert [e.fields for e in events] == [{"dns.question.name": "example.com"}, {"dns.question.name": "other.org"}]
    assert publisher.codec.decoded == 1  # only the one encoded without them


def test_the_event_handed_over_is_left_as_it_was(tmp_path: Path):
    publisher = _publisher(Recording(encoded=True), tmp_path)
    event = {"type": "flow", "@metadata": {"pipeline": "p"}, "n": 1}
    publisher.publish(event)
    publisher.close(timeout=10)
    assert event == {"type": "flow", "@metadata": {"pipeline": "p"}, "n": 1}


def test_validation_checks_each_shape_once_and_failing_shapes_every_time():
    checked: list[dict[str, Any]] = []

    def validate(event: dict[str, Any]) -> list[str]:
        checked.append(event)
        return ["source.ip: not an IP address"] if event.get("source", {}).get("ip") == "nope" else []

    cache = ShapeCache(validate, max_shapes=10)
    validator = EventValidator(cache)
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"]:
        assert validator({"type": "flow", "source": {"ip": ip}})
    assert len(checked) == 1  # one shape, checked once
    first_bad = {"type": "flow", "source": {"ip": "nope"}, "extra": 1}
    validator(first_bad)
    validator(dict(first_bad))
    assert len(checked) == 3 and validator.stats()["invalid"] == 2  # a failing shape: checked each time
    assert validator({"type": "flow", "source": {"ip": "10.0.0.9", "port": 53}})  # a new shape
    assert len(checked) == 4
    assert validator.stats()["shape_cache"] == {"shapes": 2, "max_shapes": 10, "skipped": 2, "over_limit": 0}


def test_shapes_tell_types_and_nesting_apart_but_not_list_lengths():
    assert event_shape({"a": 1}) != event_shape({"a": "1"})
    assert event_shape({"a": 1}) != event_shape({"a": True})
    assert event_shape({"a": {"b": 1}}) != event_shape({"a": [{"b": 1}]})
    assert event_shape({"ip": ["a", "b", "c"]}) == event_shape({"ip": ["d"]})
    assert event_shape({"a": 1, "b": 2}) != event_shape({"a": 1})


def test_the_shape_cache_is_bounded_and_counts_what_it_could_not_keep():
    cache = ShapeCache(lambda event: [], max_shapes=2)
    for key in "abcd":
        cache({key: 1})
        cache({key: 1})
    assert cache.stats() == {"shapes": 2, "max_shapes": 2, "skipped": 2, "over_limit": 4}


def test_metadata_json_cannot_express_is_dead_lettered_at_publish_not_retried_by_the_output(tmp_path: Path):
    output = Recording(encoded=True)
    publisher = _publisher(output, tmp_path)
    assert publisher.publish({"id": 1, "@metadata": {"raw": b"\x00"}}) is False
    assert publisher.publish({"id": 2, "@metadata": {"_id": "a"}}) is True
    publisher.close(timeout=10)
    assert publisher.stats()["queue"]["dropped"]["encode_error"] == 1
    (line,) = (tmp_path / "dead.ndjson").read_text().splitlines()
    assert json.loads(line)["event"]["id"] == 1
    assert [[(e.doc, e.meta) for e in batch] for batch in output.batches] == [[(b'{"id":2}', {"_id": "a"})]]
