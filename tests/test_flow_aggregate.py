"""Flow rollups (`packetshipper.flows.aggregate`): bounded keys, structured (never concatenated) keys, and
sums that equal the flows' own counts exactly."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from packetshipper.pcapgen import udp_frame, write_pcap
from packetshipper.testing import run_pcap

T0 = 1_700_000_020.0  # 22:13:40 UTC, 40 s into a minute: the first period is a short one
SERVICES = [("192.0.2.10", 53), ("192.0.2.20", 123), ("192.0.2.30", 514)]


def _run(path: Path, **aggregate: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    config = {"packetshipper": {"flows": {"enabled": True, "period": -1,
                                          "aggregate": {"enabled": True, **aggregate}}}}
    run = run_pcap(str(path), config)
    flows = [e for e in run.events if e["type"] == "flow"]
    rollups = [e for e in run.events if e["type"] == "flow_aggregate"]
    return flows, rollups, run.stats["flows"]


def _many_flows(tmp_path: Path, flows: int = 10_000, sources: int = 100, seconds: float = 150.0) -> Path:
    packets = []
    for i in range(flows):
        ts = T0 + seconds * i / flows
        client = f"10.1.{(i % sources) // 250}.{(i % sources) % 250 + 1}"
        server, port = SERVICES[i % 3]
        sport = 20000 + i
        packets.append((ts, udp_frame(client, server, sport, port, b"x" * (i % 50))))
        if i % 4:  # three in four are answered
            packets.append((ts + 0.001, udp_frame(server, client, port, sport, b"y" * (i % 70))))
    path = tmp_path / "many.pcap"
    write_pcap(str(path), packets)
    return path


def test_10000_flows_from_100_sources_to_3_services(tmp_path: Path) -> None:
    flows, rollups, stats = _run(_many_flows(tmp_path))
    assert len(flows) == 10_000
    per_period = collections.Counter(r["event"]["start"] for r in rollups)
    assert len(per_period) == 4  # 150 s from 40 s into a minute: parts of four minutes
    assert max(per_period.values()) <= 300
    keys = [(r["event"]["start"], r["source"]["ip"], r["destination"]["ip"], r["destination"]["port"],
             r["network"]["transport"]) for r in rollups]
    assert len(keys) == len(set(keys))
    for side in ("source", "destination"):
        for figure in ("packets", "bytes"):
            assert sum(r[side][figure] for r in rollups) == sum(f[side].get(figure, 0) for f in flows)
    assert sum(r["flow_aggregate"]["flows"] for r in rollups) == 10_000
    # Every one of the 300 (source, service) keys of a full minute has flows in it.
    full_minute = [r for r in rollups if r["event"]["start"].endswith(":14:00.000000Z")]
    assert len(full_minute) == 300
    assert stats["aggregate_dropped_flows"] == 0


def test_keys_that_would_collide_when_concatenated_stay_apart(tmp_path: Path) -> None:
    # FEVER-style concatenation: "10.0.0.1" + "12" and "10.0.0.11" + "2" both read "10.0.0.112".
    packets = [(T0, udp_frame("172.16.0.5", "10.0.0.1", 40000, 12, b"a")),
               (T0 + 1, udp_frame("172.16.0.5", "10.0.0.11", 40001, 2, b"bb"))]
    path = tmp_path / "collide.pcap"
    write_pcap(str(path), packets)
    _, rollups, _ = _run(path)
    assert sorted((r["destination"]["ip"], r["destination"]["port"]) for r in rollups) == [
        ("10.0.0.1", 12), ("10.0.0.11", 2)]


def test_a_long_flow_is_counted_in_each_period_with_that_periods_traffic(tmp_path: Path) -> None:
    packets = [(T0 + second, udp_frame("10.0.0.1", "192.0.2.10", 5000, 53, b"q" * 10)) for second in range(0, 90, 2)]
    path = tmp_path / "long.pcap"
    write_pcap(str(path), packets)
    config = {"packetshipper": {"flows": {"enabled": True, "timeout": "10m", "period": -1,
                                          "aggregate": {"enabled": True}}}}
    events = run_pcap(str(path), config).events
    (flow,) = [e for e in events if e["type"] == "flow"]
    rollups = sorted((e for e in events if e["type"] == "flow_aggregate"), key=lambda e: e["event"]["start"])
    # Packets at 40, 42, ..., 58 s of the first minute (10), the whole next minute (30), 5 in the third.
    assert [r["source"]["packets"] for r in rollups] == [10, 30, 5]
    assert all(r["flow_aggregate"]["flows"] == 1 for r in rollups)
    assert sum(r["source"]["bytes"] for r in rollups) == flow["source"]["bytes"]


def test_keys_over_max_keys_are_counted_not_reported(tmp_path: Path) -> None:
    packets = [(T0 + i * 0.1, udp_frame(f"10.0.0.{i + 1}", "192.0.2.10", 5000, 53, b"q")) for i in range(10)]
    path = tmp_path / "keys.pcap"
    write_pcap(str(path), packets)
    _, rollups, stats = _run(path, max_keys=4)
    assert len(rollups) == 4
    assert stats["aggregate_dropped_flows"] == 6 and stats["aggregate_dropped_packets"] == 6


def test_source_ports_are_listed_up_to_the_limit_and_counted_exactly(tmp_path: Path) -> None:
    ports = [1024 + 7 * i for i in range(40)] + [1024, 1031]  # 40 distinct, two repeated
    packets = [(T0 + i * 0.1, udp_frame("10.0.0.1", "192.0.2.10", port, 53, b"q")) for i, port in enumerate(ports)]
    path = tmp_path / "ports.pcap"
    write_pcap(str(path), packets)
    _, rollups, _ = _run(path, max_ports_listed=5)
    (rollup,) = rollups
    assert rollup["flow_aggregate"]["source_port_count"] == 40
    assert rollup["flow_aggregate"]["source_ports"] == sorted(ports[:5])
    assert rollup["flow_aggregate"]["flows"] == 40  # the repeated ports reuse their flows


def test_the_key_is_configurable(tmp_path: Path) -> None:
    _, rollups, _ = _run(_many_flows(tmp_path, flows=600, seconds=10.0), key=["destination.port", "network.transport"])
    assert sorted(r["destination"]["port"] for r in rollups) == [53, 123, 514]
    assert all("ip" not in r["source"] and "ip" not in r["destination"] for r in rollups)
