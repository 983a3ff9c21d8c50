"""The output is down for a while at the start of a replay, then comes back: nothing is lost.

The outage (3 s) is much longer than the whole retry budget of a failed batch (max_retries 3 with
backoff 0.05 s .. 0.2 s: under 0.6 s), so events survive only because an unreachable receiver does not
use up retries (Beats' behaviour) and because reading a file blocks on a full queue instead of dropping.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.settings import validate

OUTAGE_SECONDS = 3.0


def _config(tmp_path: Path, queue: dict[str, Any]) -> dict[str, Any]:
    file_output = {"path": str(tmp_path / "out"), "bulk_max_size": 200, "backoff": {"init": "50ms", "max": "200ms"}}
    return {
        "queue": validate(PIPELINE_SETTINGS, queue, "queue"),
        "output": {"file": validate(output_settings("file"), file_output, "output.file")},
        "path": {"data": str(tmp_path / "data")},
    }


def _delivered(directory: Path) -> list[int]:
    return [json.loads(line)["id"] for f in sorted(directory.glob("packetshipper*")) for line in f.open()]


def _replay_with_outage(tmp_path: Path, queue: dict[str, Any], count: int) -> tuple[dict[str, Any], list[int]]:
    (tmp_path / "out").write_text("a file where the output directory should be")  # output down
    metrics = Metrics()
    publisher = build_publisher(_config(tmp_path, queue), metrics, live=False)
    restore = threading.Timer(OUTAGE_SECONDS, lambda: (tmp_path / "out").unlink())
    restore.start()
    try:
        accepted = [publisher.publish({"id": i, "type": "flow"}) for i in range(count)]
        publisher.close(timeout=25)
    finally:
        restore.cancel()
    assert all(accepted)
    return metrics.snapshot(), _delivered(tmp_path / "out")


def test_memory_queue_replay_survives_an_output_outage(tmp_path: Path):
    stats, delivered = _replay_with_outage(tmp_path, {"mem": {"events": 500, "flush.min_events": 100}}, 3000)
    assert sorted(delivered) == list(range(3000))
    assert stats["queue"]["blocked"] > 0  # the replay waited on the full queue instead of dropping
    assert stats["queue"]["dropped"]["full"] == 0
    assert stats["output"]["connect_failures"] > 0
    assert stats["output"]["events"]["given_up"] == 0
    assert stats["output"]["dead_letter"]["written"] == 0
    assert stats["queue"]["acked"] == stats["output"]["events"]["acked"] == 3000


def test_disk_queue_replay_survives_an_output_outage(tmp_path: Path):
    stats, delivered = _replay_with_outage(tmp_path, {"disk": {"max_size": "1MB", "segment_size": "64KB"}}, 3000)
    assert sorted(delivered) == list(range(3000))
    assert stats["queue"]["type"] == "disk" and stats["queue"]["events"] == 0
    assert stats["output"]["connect_failures"] > 0
    assert stats["queue"]["acked"] == stats["output"]["events"]["acked"] == 3000
    assert (tmp_path / "data" / "diskqueue").is_dir()
