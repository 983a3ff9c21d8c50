"""Flow table behaviour on crafted captures: periodic and final reports, timeouts on the packet clock,
delta reporting, port reuse after FIN/RST, and the max_flows bound."""

from __future__ import annotations

from pathlib import Path

from packetshipper.pcapgen import tcp_frame, udp_frame, write_pcap
from packetshipper.testing import run_pcap

T0 = 1_600_000_000.0
A, B = "10.0.0.1", "10.0.0.2"


def _run(tmp_path: Path, packets: list[tuple[float, bytes]], **flows: object) -> tuple[list[dict], dict]:
    path = tmp_path / "crafted.pcap"
    write_pcap(str(path), packets)
    result = run_pcap(str(path), {"packetshipper": {"flows": {"enabled": True, **flows}}})
    return [e for e in result.events if e["type"] == "flow"], result.stats


def _udp_every_second(seconds: int, sport: int = 5000) -> list[tuple[float, bytes]]:
    return [(T0 + i, udp_frame(A, B, sport, 53, b"q")) for i in range(seconds)]


def test_period_reports_every_period_on_the_packet_clock_then_a_final_event(tmp_path: Path) -> None:
    events, _ = _run(tmp_path, _udp_every_second(35), period="10s", timeout="30s")
    interim = [e for e in events if not e["flow"]["final"]]
    finals = [e for e in events if e["flow"]["final"]]
    # Reports are aligned to whole periods of the packet clock: T0 is a multiple of 10 s.
    assert [e["@timestamp"] for e in interim] == [
        "2020-09-13T12:26:50.000000Z", "2020-09-13T12:27:00.000000Z", "2020-09-13T12:27:10.000000Z"]
    assert [e["source"]["packets"] for e in interim] == [10, 20, 30]  # totals, not deltas
    assert len(finals) == 1 and finals[0]["source"]["packets"] == 35
    assert len({e["flow"]["id"] for e in events}) == 1


def test_delta_reporting_reports_what_came_since_the_last_report(tmp_path: Path) -> None:
    events, _ = _run(tmp_path, _udp_every_second(35), period="10s", enable_delta_flow_reporting=True)
    assert [e["source"]["packets"] for e in events] == [10, 10, 10, 5]
    assert sum(e["source"]["bytes"] for e in events) == 35 * len(udp_frame(A, B, 5000, 53, b"q"))


def test_period_minus_one_reports_only_when_the_flow_ends(tmp_path: Path) -> None:
    events, _ = _run(tmp_path, _udp_every_second(35), period=-1)
    assert len(events) == 1 and events[0]["flow"]["final"] is True


def test_an_idle_flow_times_out_and_a_later_packet_starts_a_new_one(tmp_path: Path) -> None:
    packets = [(T0, udp_frame(A, B, 5000, 53, b"q")), (T0 + 0.5, udp_frame(B, A, 53, 5000, b"r")),
               (T0 + 100, udp_frame(A, B, 5000, 53, b"q"))]
    events, stats = _run(tmp_path, packets, period=-1, timeout="30s")
    assert [e["flow"]["final"] for e in events] == [True, True]
    first, second = events
    assert first["flow"]["id"] != second["flow"]["id"]
    assert (first["source"]["packets"], first["destination"]["packets"]) == (1, 1)
    assert second["source"]["packets"] == 1 and "packets" not in second["destination"]
    # The first flow was ended by the sweep, before the packet at T0 + 100 arrived.
    assert first["@timestamp"] < "2020-09-13T12:28:20.000000Z"
    assert stats["flows"]["created"] == 2 and stats["flows"]["ended"] == 2


def test_a_syn_after_fin_on_the_same_ports_starts_a_new_flow(tmp_path: Path) -> None:
    def connection(t: float) -> list[tuple[float, bytes]]:
        return [(t, tcp_frame(A, B, 40000, 80, flags="S", seq=1)),
                (t + 0.01, tcp_frame(B, A, 80, 40000, flags="SA", seq=9, ack=2)),
                (t + 0.02, tcp_frame(A, B, 40000, 80, b"hello", flags="PA", seq=2, ack=10)),
                (t + 0.03, tcp_frame(A, B, 40000, 80, flags="FA", seq=7, ack=10)),
                (t + 0.04, tcp_frame(B, A, 80, 40000, flags="FA", seq=10, ack=8))]

    events, _ = _run(tmp_path, connection(T0) + connection(T0 + 1), period=-1)
    assert len(events) == 2
    assert [(e["source"]["packets"], e["destination"]["packets"]) for e in events] == [(3, 2), (3, 2)]
    assert events[0]["flow"]["id"] != events[1]["flow"]["id"]


def test_a_rst_also_lets_a_new_syn_start_a_new_flow(tmp_path: Path) -> None:
    packets = [(T0, tcp_frame(A, B, 40000, 80, flags="S")), (T0 + 0.1, tcp_frame(B, A, 80, 40000, flags="RA")),
               (T0 + 0.2, tcp_frame(A, B, 40000, 80, flags="S"))]
    events, _ = _run(tmp_path, packets, period=-1)
    assert [e["network"]["packets"] for e in events] == [2, 1]


def test_max_flows_refuses_new_flows_and_counts_their_packets(tmp_path: Path) -> None:
    packets = [(T0 + i * 0.001, udp_frame(A, B, 6000 + i % 5, 53, b"q")) for i in range(20)]
    events, stats = _run(tmp_path, packets, period=-1, max_flows=3)
    assert len(events) == 3
    assert sum(e["source"]["packets"] for e in events) == 12  # 4 packets each for ports 6000..6002
    assert stats["flows"]["refused"] == 8
    assert stats["flows"]["packets_untracked"] == 8


def test_vlan_tagged_and_untagged_traffic_are_separate_flows(tmp_path: Path) -> None:
    packets = [(T0, udp_frame(A, B, 5000, 53, b"q")), (T0 + 0.1, udp_frame(A, B, 5000, 53, b"q", vlans=(7,)))]
    events, _ = _run(tmp_path, packets, period=-1)
    assert sorted(str(e["flow"].get("vlan")) for e in events) == ["7", "None"]
