"""The http module's cache of Host header facts: bounded by `host_cache_size`, what it forgot counted in
/stats (`protocols.modules.http.host_cache_evicted`), the events the same whatever its size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lru_model import lru_evictions
from packetshipper.pcapgen import http_conversation, write_pcap
from packetshipper.settings import ConfigError
from packetshipper.testing import run_pcap

CONVERSATIONS = 40  # one GET each, Host shop{i % 13}.example.com: 13 hosts in turn


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hosts") / "hosts.pcap"
    frames = [frame for i in range(CONVERSATIONS) for frame in http_conversation(i, 200)]
    write_pcap(str(path), ((1_700_000_000.0 + n * 0.001, frame) for n, frame in enumerate(frames)))
    return path


def _run(capture: Path, size: int | None) -> Any:
    http: dict[str, Any] = {"type": "http", "ports": [80, 8080]}
    if size is not None:
        http["host_cache_size"] = size
    return run_pcap(str(capture), {"packetshipper": {"protocols": [http], "flows": {"enabled": False}}})


@pytest.mark.parametrize("size", [0, 4, 13])
def test_the_hosts_forgotten_are_counted_and_the_events_do_not_change(capture: Path, size: int) -> None:
    default = _run(capture, None)
    small = _run(capture, size)
    hosts = [event["url"]["domain"] for event in default.events]
    assert len(hosts) == CONVERSATIONS and len(set(hosts)) == 13
    assert small.events == default.events
    assert default.stats["protocols"]["modules"]["http"]["host_cache_evicted"] == 0
    assert small.stats["protocols"]["modules"]["http"]["host_cache_evicted"] == lru_evictions(hosts, size)


def test_a_negative_size_is_refused_in_one_line(capture: Path) -> None:
    with pytest.raises(ConfigError, match="host_cache_size"):
        _run(capture, -1)
