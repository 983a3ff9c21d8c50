"""The dns module's cache of question names' domain parts: bounded by `suffix_cache_size`, what it forgot
counted in /stats (`protocols.modules.dns.suffix_cache_evicted`), the events the same whatever its size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lru_model import lru_evictions
from packetshipper.modules.dns.suffix import DEFAULT_LIST_PATH
from packetshipper.pcapgen import dns_a_response, dns_query, udp_frame, write_pcap
from packetshipper.settings import ConfigError
from packetshipper.testing import run_pcap

pytestmark = pytest.mark.skipif(not Path(DEFAULT_LIST_PATH).exists(), reason="needs the Public Suffix List")

EXCHANGES = 40  # one query and its answer each, for www.shop{i % 13}.example.co.uk: 13 names in turn


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("names") / "names.pcap"
    frames = []
    for i in range(EXCHANGES):
        name, sport = f"www.shop{i % 13}.example.co.uk", 20000 + i
        frames += [udp_frame("10.0.0.1", "192.0.2.53", sport, 53, dns_query(i, name)),
                   udp_frame("192.0.2.53", "10.0.0.1", 53, sport, dns_a_response(i, name, ["203.0.113.9"]))]
    write_pcap(str(path), ((1_700_000_000.0 + n * 0.001, frame) for n, frame in enumerate(frames)))
    return path


def _run(capture: Path, size: int | None) -> Any:
    dns: dict[str, Any] = {"type": "dns"}
    if size is not None:
        dns["suffix_cache_size"] = size
    return run_pcap(str(capture), {"packetshipper": {"protocols": [dns], "flows": {"enabled": False}}})


@pytest.mark.parametrize("size", [0, 4, 13])
def test_the_names_forgotten_are_counted_and_the_events_do_not_change(capture: Path, size: int) -> None:
    default = _run(capture, None)
    small = _run(capture, size)
    questions = [event["dns"]["question"] for event in default.events]
    names = [question["name"] for question in questions]
    assert len(names) == EXCHANGES and len(set(names)) == 13
    # the Public Suffix List's view: co.uk is the suffix, example.co.uk the registered domain
    assert {(q["top_level_domain"], q["registered_domain"], q["subdomain"]) for q in questions} == {
        ("co.uk", "example.co.uk", f"www.shop{i}") for i in range(13)}
    assert small.events == default.events
    assert default.stats["protocols"]["modules"]["dns"]["suffix_cache_evicted"] == 0
    assert small.stats["protocols"]["modules"]["dns"]["suffix_cache_evicted"] == lru_evictions(names, size)


def test_a_negative_size_is_refused_in_one_line(capture: Path) -> None:
    with pytest.raises(ConfigError, match="suffix_cache_size"):
        _run(capture, -1)
