"""Live capture with a full memory queue drops the newest events, counts each one, and the ledger adds
up: published = queued + dropped, queued = acknowledged by the output + dead-lettered + still queued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.settings import ConfigError, validate

CAPACITY = 100
PUBLISHED = 1000


def _config(tmp_path: Path, queue: dict[str, Any]) -> dict[str, Any]:
    out = {"path": str(tmp_path / "out"), "backoff": {"init": "10ms", "max": "20ms"}}
    return {
        "queue": validate(PIPELINE_SETTINGS, queue, "queue"),
        "output": {"file": validate(output_settings("file"), out, "output.file")},
        "path": {"data": str(tmp_path / "data")},
    }


def test_full_memory_queue_in_live_mode_drops_exactly_the_overflow(tmp_path: Path):
    (tmp_path / "out").write_text("blocks the output until removed")
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, {"mem": {"events": CAPACITY}}), metrics, live=True)
    accepted = [publisher.publish({"id": i}) for i in range(PUBLISHED)]
    assert accepted == [True] * CAPACITY + [False] * (PUBLISHED - CAPACITY)  # the newest are dropped

    during = metrics.snapshot()["queue"]
    assert during["events"] == CAPACITY and during["dropped"]["full"] == PUBLISHED - CAPACITY

    (tmp_path / "out").unlink()
    publisher.close(timeout=20)
    stats = metrics.snapshot()
    queue, output = stats["queue"], stats["output"]
    delivered = [json.loads(line)["id"] for line in (tmp_path / "out" / "packetshipper").open()]
    assert delivered == list(range(CAPACITY))
    assert queue["added"] + sum(queue["dropped"].values()) == PUBLISHED
    assert queue["added"] == queue["acked"] + queue["events"]
    assert queue["acked"] == output["events"]["acked"] + output["events"]["given_up"] + output["events"]["rejected"]
    assert output["events"]["acked"] == len(delivered)


def test_live_mode_can_be_told_to_block_instead(tmp_path: Path):
    metrics = Metrics()
    config = _config(tmp_path, {"mem": {"events": 10, "blocking": True}})
    publisher = build_publisher(config, metrics, live=True)
    assert all(publisher.publish({"id": i}) for i in range(200))
    publisher.close(timeout=20)
    assert metrics.snapshot()["queue"]["dropped"]["full"] == 0
    assert metrics.snapshot()["output"]["events"]["acked"] == 200


def test_reading_a_file_never_drops_even_when_full(tmp_path: Path):
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, {"mem": {"events": 5}}), metrics, live=False)
    assert all(publisher.publish({"id": i}) for i in range(300))
    publisher.close(timeout=20)
    delivered = [json.loads(line)["id"] for line in (tmp_path / "out" / "packetshipper").open()]
    assert delivered == list(range(300))


def test_configuring_both_queues_is_a_config_error(tmp_path: Path):
    config = _config(tmp_path, {"mem": {"events": 5}, "disk": {"max_size": "1MB"}})
    with pytest.raises(ConfigError, match="either queue.mem or queue.disk"):
        build_publisher(config, Metrics(), live=False)


def test_queue_settings_name_the_bad_key():
    with pytest.raises(ConfigError) as info:
        validate(PIPELINE_SETTINGS, {"mem.flush.min_events": "many"}, "queue")
    assert info.value.path == "queue.mem.flush.min_events"
    with pytest.raises(ConfigError) as info:
        validate(PIPELINE_SETTINGS, {"disk": {"fsync": "sometimes"}}, "queue")
    assert info.value.path == "queue.disk.fsync"


def test_exactly_one_output_must_be_enabled(tmp_path: Path):
    config = _config(tmp_path, {})
    config["output"]["console"] = {"enabled": True}
    with pytest.raises(ConfigError, match="exactly one output"):
        build_publisher(config, Metrics(), live=False)
