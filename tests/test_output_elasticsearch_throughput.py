"""Throughput of the network outputs: events decoded from a Packetbeat pcap, shipped in batches to the
in-test Elasticsearch and Lumberjack servers and to the file output, all in this one process (one core
shared by sender and receiver). Prints events/s; asserts only that every event arrived (no timing).

Run: python -m pytest -q -s -m slow tests/test_output_elasticsearch_throughput.py
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import Output
from packetshipper.outputs.elasticsearch import ElasticsearchOutput
from packetshipper.outputs.file import FileOutput
from packetshipper.outputs.logstash import LogstashOutput
from packetshipper.settings import validate
from packetshipper.testing import events_from_pcap
from servers.es_server import EsServer
from servers.lumberjack_server import LumberjackServer

pytestmark = pytest.mark.slow

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "http_minitwit.pcap"
TOTAL = 20_000
BATCH = 1600


def pcap_events() -> list[dict[str, Any]]:
    decoded = events_from_pcap(str(PCAP), {"packetshipper": {"protocols": [{"type": "http"}],
                                                              "flows": {"enabled": False}}})
    assert decoded, "the pcap gave no events"
    return [copy.deepcopy(decoded[i % len(decoded)]) for i in range(TOTAL)]


def ship(output: Output, events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for offset in range(0, len(events), BATCH):
        result = output.publish_batch(events[offset : offset + BATCH])
        assert result.retry == [] and result.dead == []
    return len(events) / (time.perf_counter() - start)


def report(name: str, rate: float) -> None:
    print(f"\n{name}: {rate:,.0f} events/s ({TOTAL} events from {PCAP.name}, batches of {BATCH})")


def measure(name: str, make: Callable[[], Output], count: Callable[[], int]) -> None:
    rate = ship(make(), pcap_events())
    assert count() == TOTAL
    report(name, rate)


def test_throughput_to_the_in_test_elasticsearch() -> None:
    with EsServer() as es:
        measure("elasticsearch (gzip level 1)", lambda: ElasticsearchOutput(
            validate(ElasticsearchOutput.settings, {"hosts": [es.url], "index": "bench"})),
            lambda: len(es.all_documents()))


def test_throughput_to_the_lumberjack_server() -> None:
    with LumberjackServer() as srv:
        def make() -> Output:
            cfg = validate(LogstashOutput.settings, {"hosts": [f"127.0.0.1:{srv.port}"]})
            cfg["bulk_max_size"] = BATCH
            return LogstashOutput(cfg)
        measure("logstash (zlib level 3)", make, lambda: len(srv.acked_events))


def test_throughput_to_a_file(tmp_path: Path) -> None:
    output = FileOutput(validate(FileOutput.settings, {"path": str(tmp_path), "rotate_every_kb": 1 << 20}))
    rate = ship(output, pcap_events())
    output.close()
    assert sum(len(f.read_bytes().splitlines()) for f in tmp_path.iterdir()) == TOTAL
    report("file", rate)
