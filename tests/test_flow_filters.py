"""Flow filters (`packetshipper.flows.filters.*`): off by default; when on, the flows they match are not
reported, and each is counted under the filter that dropped it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import tcp_frame, udp_frame, write_pcap
from packetshipper.testing import run_pcap

T0 = 1_700_000_020.0
FRAMES = {
    "unspecified": [udp_frame("0.0.0.0", "255.255.255.255", 68, 67, b"discover"),
                    udp_frame("10.0.0.1", "10.0.0.2", 0, 53, b"port zero"),
                    udp_frame("::", "ff02::1:2", 546, 547, b"solicit")],
    "loopback": [tcp_frame("127.0.0.1", "127.0.0.2", 40000, 80, flags="S"),
                 udp_frame("::1", "2001:db8::1", 40001, 53, b"q")],
    "same_endpoints": [udp_frame("10.0.0.9", "10.0.0.9", 40002, 53, b"self")],
}
KEEP = [udp_frame("10.0.0.1", "10.0.0.2", 40003, 53, b"kept"), tcp_frame("192.0.2.1", "198.51.100.2", 40004, 443, flags="S")]


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    frames = [frame for group in FRAMES.values() for frame in group] + KEEP
    path = tmp_path / "filters.pcap"
    write_pcap(str(path), [(T0 + i * 0.1, frame) for i, frame in enumerate(frames)])
    return path


def _run(path: Path, filters: dict[str, bool], aggregate: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    config = {"packetshipper": {"flows": {"enabled": True, "filters": filters, "aggregate": {"enabled": aggregate}}}}
    run = run_pcap(str(path), config)
    return run.events, run.stats["flows"]


def test_every_flow_is_reported_by_default(capture: Path) -> None:
    events, stats = _run(capture, {})
    assert len([e for e in events if e["flow"]["final"]]) == sum(len(g) for g in FRAMES.values()) + len(KEEP)
    assert "filtered" not in stats


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_each_filter_drops_its_flows_and_counts_them(capture: Path, name: str) -> None:
    events, stats = _run(capture, {name: True})
    finals = [e for e in events if e["flow"]["final"]]
    assert len(finals) == sum(len(g) for g in FRAMES.values()) + len(KEEP) - len(FRAMES[name])
    assert stats["filtered"] == {name: len(FRAMES[name])}


def test_all_filters_together_keep_only_ordinary_flows_and_rollups_skip_what_they_drop(capture: Path) -> None:
    events, stats = _run(capture, dict.fromkeys(FRAMES, True), aggregate=True)
    flows = [e for e in events if e["type"] == "flow"]
    assert sorted(f["destination"]["port"] for f in flows) == [53, 443]
    rollups = [e for e in events if e["type"] == "flow_aggregate"]
    assert sum(r["flow_aggregate"]["flows"] for r in rollups) == len(KEEP)
    assert sum(stats["filtered"].values()) == sum(len(g) for g in FRAMES.values())


def test_the_no_payload_filter_drops_tcp_flows_that_carried_no_data(tmp_path: Path) -> None:
    c, s = "10.0.0.1", "10.0.0.2"
    frames = [tcp_frame(c, s, 40010, 22, flags="S", seq=100),  # a probe: SYN, SYN-ACK, RST
              tcp_frame(s, c, 22, 40010, flags="SA", seq=900, ack=101),
              tcp_frame(c, s, 40010, 22, flags="R", seq=101),
              tcp_frame(c, s, 40011, 80, flags="S", seq=200),  # a connection that sends data
              tcp_frame(s, c, 80, 40011, flags="SA", seq=700, ack=201),
              tcp_frame(c, s, 40011, 80, b"GET / HTTP/1.1\r\n\r\n", flags="PA", seq=201, ack=701),
              udp_frame(c, s, 40012, 53, b"q")]
    path = tmp_path / "payload.pcap"
    write_pcap(str(path), [(T0 + i * 0.1, frame) for i, frame in enumerate(frames)])
    events, stats = _run(path, {"no_payload": True}, aggregate=True)
    flows = [e for e in events if e["type"] == "flow"]
    assert sorted(f["destination"]["port"] for f in flows) == [53, 80]
    assert stats["filtered"] == {"no_payload": 1}
    rollups = [e for e in events if e["type"] == "flow_aggregate"]
    assert sorted(r["destination"]["port"] for r in rollups) == [53, 80]
