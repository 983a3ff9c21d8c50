"""The runtime schema-validation switch: events are checked against fields/ before they are queued,
violations are counted (and, with `drop`, the events refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.pipeline.validation import EventValidator
from packetshipper.settings import validate

VALID = {"type": "flow", "@timestamp": "2015-07-11T21:47:24.428Z", "source": {"ip": "10.0.0.1"}}
INVALID = {"type": "flow", "@timestamp": "2015-07-11T21:47:24.428Z", "bogus": 1, "source": {"ip": "nope"}}


def _config(tmp_path: Path, validation: dict[str, Any] | None, **top: Any) -> dict[str, Any]:
    config = {
        "queue": validate(PIPELINE_SETTINGS, {}, "queue"),
        "output": {"file": validate(output_settings("file"), {"path": str(tmp_path / "out")}, "output.file")},
        "path": {"data": str(tmp_path / "data")},
        **top,
    }
    if validation is not None:
        config["validation"] = validation
    return config


def _lines(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "out" / "packetshipper").open()]


def test_violations_are_counted_and_events_still_shipped(tmp_path: Path):
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, {"enabled": True}), metrics, live=False)
    assert publisher.publish(dict(VALID)) and publisher.publish(dict(INVALID))
    publisher.close(timeout=20)
    stats = metrics.snapshot()["validation"]
    assert stats["checked"] == 2 and stats["invalid"] == 1 and stats["violations"] == 2
    assert stats["by_message"] == {"bogus: unknown field": 1, "source.ip: 'nope' is not an IP address": 1}
    assert [e["source"]["ip"] for e in _lines(tmp_path)] == ["10.0.0.1", "nope"]


def test_drop_refuses_invalid_events(tmp_path: Path):
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, {"enabled": True, "drop": True}), metrics, live=False)
    assert publisher.publish(dict(VALID)) is True
    assert publisher.publish(dict(INVALID)) is False
    publisher.close(timeout=20)
    assert metrics.snapshot()["validation"]["dropped"] == 1
    assert [e["source"]["ip"] for e in _lines(tmp_path)] == ["10.0.0.1"]


def test_top_level_validate_events_turns_it_on_too(tmp_path: Path):
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, None, validate_events=True), metrics, live=False)
    publisher.publish(dict(INVALID))
    publisher.close(timeout=20)
    assert metrics.snapshot()["validation"]["invalid"] == 1


def test_off_by_default_and_then_not_registered(tmp_path: Path):
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, None), metrics, live=False)
    publisher.publish(dict(INVALID))
    publisher.close(timeout=20)
    assert "validation" not in metrics.snapshot()


def test_distinct_messages_are_bounded_and_a_validator_bug_never_stops_events():
    validator = EventValidator(lambda event: [f"field{event['n']}: bad"])
    for n in range(150):
        assert validator({"n": n})
    assert len(validator.by_message) == 101 and validator.by_message["other"] == 50
    broken = EventValidator(lambda event: event["missing"])
    assert broken({"type": "flow"}) is True and broken.stats()["errors"] == 1
