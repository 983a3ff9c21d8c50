"""A real `packetshipper -I file.pcap` run whose output is Kafka (librdkafka's mock cluster, in this process).

dns_google_com.pcap holds one DNS query for google.com and its answer: Packetbeat's test_0032_dns makes
one dns event of it. The events read back from Kafka must be exactly those the same run writes with the
file output (the replay runs on the packet clock, so both runs make the same events), each on the topic
its type names, valid against fields/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("confluent_kafka")

from kafka_mock import MockCluster, consume_all  # noqa: E402

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"
VARYING = ("agent.ephemeral_id", "event.ingested")  # differ from run to run by design


def _run(tmp_path: Path, name: str, output: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    config = tmp_path / f"{name}.yml"
    config.write_text(yaml.safe_dump({
        "packetshipper": {"protocols": [{"type": "dns"}]},
        "output": output,
        "path": {"data": str(tmp_path / f"{name}-data"), "logs": str(tmp_path / f"{name}-logs")},
    }))
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", "-c", str(config), "-I", str(PCAP), "-t",
                           "--no-progress"], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def _comparable(event: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(event))
    out.pop("@metadata", None)
    for dotted in VARYING:
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return out


def test_a_pcap_replay_lands_in_kafka_complete(tmp_path: Path,
                                               assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    reference = _run(tmp_path, "file", {"file": {"path": str(tmp_path / "out"), "filename": "events"}})
    assert reference.returncode == 0, reference.stderr
    expected = [json.loads(line) for line in (tmp_path / "out" / "events").read_text().splitlines()]
    assert {e["type"] for e in expected} == {"dns", "flow"}
    cluster = MockCluster(3)
    try:
        cluster.create_topic("ps-dns", 2)
        cluster.create_topic("ps-flow", 2)
        done = _run(tmp_path, "kafka", {"kafka": {"hosts": cluster.hosts, "topic": "ps-%{[type]}",
                                                  "compression": "lz4"}})
        assert done.returncode == 0, done.stderr
        messages = consume_all(cluster.bootstrap, ["ps-dns", "ps-flow"], len(expected))
    finally:
        cluster.close()

    received = [json.loads(m.value()) for m in messages]
    for message, event in zip(messages, received, strict=True):
        assert message.topic() == f"ps-{event['type']}"
        assert event["@metadata"]["beat"] == "packetshipper"
        assert_valid_event({k: v for k, v in event.items() if k != "@metadata"})
    dns = [e for e in received if e["type"] == "dns"]
    assert len(dns) == 1 and dns[0]["dns"]["question"]["name"] == "google.com"
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(key, map(_comparable, received))) == sorted(map(key, map(_comparable, expected)))
