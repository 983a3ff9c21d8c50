"""The monitoring endpoint as libbeat's: `/stats` carries `libbeat.pipeline.*`, `libbeat.output.*`, `beat.*`
and `system.*` beside our own sections, with the same numbers; `/state` says what runs."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from packetshipper.config import validate_config
from packetshipper.metrics import Metrics
from packetshipper.monitoring import Monitor
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.settings import validate

INFO = {"beat": "packetshipper", "name": "probe", "hostname": "probe-host", "version": "0.1.0"}


def _get(monitor: Monitor, path: str) -> Any:
    address = monitor.address
    assert address is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}{path}", timeout=10) as answer:
        return json.loads(answer.read())


def test_stats_has_libbeats_sections_with_the_numbers_of_ours(tmp_path: Path) -> None:
    metrics = Metrics()
    monitor = Monitor(metrics, {"http": {"enabled": True, "port": 0}, "logging": {"metrics": {"enabled": False}}},
                      INFO)
    monitor.start()
    try:
        config = {
            "queue": validate(PIPELINE_SETTINGS, {"mem": {"events": 50}}, "queue"),
            "output": {"file": validate(output_settings("file"), {"path": str(tmp_path / "out")}, "output.file")},
            "path": {"data": str(tmp_path / "data")},
        }
        publisher = build_publisher(config, metrics, live=True)
        sent = sum(publisher.publish({"id": i}) for i in range(80))  # 50 fit, 30 dropped: the queue is full
        publisher.close(timeout=20)
        stats = _get(monitor, "/stats")
    finally:
        monitor.stop()
    received = (tmp_path / "out" / "packetshipper").read_bytes()
    pipeline, output = stats["libbeat"]["pipeline"], stats["libbeat"]["output"]
    assert sent == 50 == len(received.splitlines())
    assert pipeline["events"]["published"] == 50 and pipeline["events"]["dropped"] == 30
    assert pipeline["events"]["total"] == 80 and pipeline["events"]["active"] == 0
    assert pipeline["queue"] == {"acked": 50, "max_events": 50}
    assert output["type"] == "file"
    assert output["events"]["acked"] == output["events"]["total"] == 50 and output["events"]["failed"] == 0
    assert output["write"]["bytes"] == len(received)
    # ours stay beside them, with the same numbers
    assert stats["queue"]["acked"] == 50 and stats["output"]["events"]["acked"] == 50
    beat = stats["beat"]
    assert beat["info"]["name"] == "packetshipper" and beat["info"]["version"] == "0.1.0"
    assert beat["info"]["uptime"]["ms"] >= 0 and len(beat["info"]["ephemeral_id"]) == 36
    assert beat["memstats"]["rss"] > 0 and beat["handles"]["open"] == stats["beat"]["handles"]["open"] > 0
    assert stats["system"]["cpu"]["cores"] == os.cpu_count()


def test_state_names_output_queue_and_modules() -> None:
    config = validate_config({"packetshipper": {"protocols": [{"type": "dns"}, {"type": "http", "enabled": False},
                                                              {"type": "tls"}]},
                              "output": {"console": {}}, "http": {"enabled": True, "port": 0},
                              "logging": {"metrics": {"enabled": False}}})
    monitor = Monitor(Metrics(), config, INFO)
    monitor.start()
    try:
        state = _get(monitor, "/state")
    finally:
        monitor.stop()
    assert state["output"] == {"name": "console"} and state["queue"] == {"name": "mem"}
    assert state["module"] == {"count": 2, "names": ["dns", "tls"]}
    assert state["service"]["name"] == "packetshipper" and state["service"]["version"] == "0.1.0"
    assert state["beat"] == {"name": "probe"} and state["host"] == {"hostname": "probe-host"}
