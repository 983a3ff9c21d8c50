"""The HTTP monitoring endpoint: `/` identifies the shipper, `/stats` serves the ledger while running,
and its numbers match what the test sent and what the output received."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from packetshipper.metrics import Metrics
from packetshipper.monitoring import Monitor
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.settings import ConfigError, validate

INFO = {"beat": "packetshipper", "name": "probe", "hostname": "probe-host", "version": "0.1.0",
        "uuid": "7f3a2c1e-0000-4000-8000-000000000001"}


def _get(monitor: Monitor, path: str) -> tuple[int, Any, str]:
    address = monitor.address
    assert address is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read()), answer.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["Content-Type"]


@pytest.fixture
def running(tmp_path: Path):
    metrics = Metrics()
    monitor = Monitor(metrics, {"http": {"enabled": True, "port": 0}, "logging": {"metrics": {"enabled": False}}},
                      INFO)
    monitor.start()
    yield metrics, monitor
    monitor.stop()


def test_root_identifies_the_shipper(running):
    _, monitor = running
    status, body, content_type = _get(monitor, "/")
    assert status == 200 and body == INFO
    assert content_type.startswith("application/json")


def test_unknown_paths_are_404(running):
    _, monitor = running
    status, body, _ = _get(monitor, "/nope")
    assert status == 404 and "nope" in body["error"]


def test_default_address_is_loopback_5066():
    monitor = Monitor(Metrics(), {}, INFO)
    assert monitor.http_settings == {"enabled": False, "host": "127.0.0.1", "port": 5066}
    assert monitor.log_settings == {"enabled": True, "period": 30.0}


def test_stats_is_the_live_ledger_and_matches_what_was_sent_and_received(running, tmp_path: Path):
    metrics, monitor = running
    metrics.register("capture", lambda: {"packets": {"received": 42}})
    (tmp_path / "out").write_text("output down for now")
    config = {
        "queue": validate(PIPELINE_SETTINGS, {"mem": {"events": 50}}, "queue"),
        "output": {"file": validate(output_settings("file"), {"path": str(tmp_path / "out"),
                                                              "backoff.init": "10ms", "backoff.max": "20ms"},
                                    "output.file")},
        "path": {"data": str(tmp_path / "data")},
    }
    publisher = build_publisher(config, metrics, live=True)
    sent = sum(publisher.publish({"id": i}) for i in range(80))

    status, during, _ = _get(monitor, "/stats")
    assert status == 200
    assert during["capture"] == {"packets": {"received": 42}}
    assert during["queue"]["events"] == 50 == sent
    assert during["queue"]["dropped"]["full"] == 30
    assert during["output"]["events"]["acked"] == 0

    (tmp_path / "out").unlink()
    publisher.close(timeout=20)
    _, after, _ = _get(monitor, "/stats?pretty")
    received = (tmp_path / "out" / "packetshipper").read_bytes()
    assert after["queue"]["events"] == 0
    assert after["queue"]["acked"] == after["output"]["events"]["acked"] == len(received.splitlines()) == 50
    assert after["output"]["write"]["bytes"] == len(received)


def test_a_busy_port_is_a_clear_config_error(running):
    _, monitor = running
    address = monitor.address
    assert address is not None
    other = Monitor(Metrics(), {"http": {"enabled": True, "port": address[1]}}, INFO)
    with pytest.raises(ConfigError, match="cannot listen"):
        other.start()
