"""A host pinging itself (loopback): both directions share one address, and echoes still pair up."""

from __future__ import annotations

from pathlib import Path

from packetshipper.pcapgen import icmp_frame, write_pcap
from packetshipper.testing import events_from_pcap


def test_self_pings_pair_by_identifier_and_sequence(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    packets = []
    for seq in range(3):
        packets.append((t0 + seq, icmp_frame("127.0.0.1", "127.0.0.1", 0x1234, seq)))
        packets.append((t0 + seq + 0.00025, icmp_frame("127.0.0.1", "127.0.0.1", 0x1234, seq, reply=True)))
    path = tmp_path / "self_ping.pcap"
    write_pcap(str(path), packets)
    events = [e for e in events_from_pcap(str(path), {"packetshipper": {"protocols": [{"type": "icmp"}],
                                                                        "flows": {"enabled": False}}})]
    assert [e["status"] for e in events] == ["OK", "OK", "OK"]
    assert [e["event"]["duration"] for e in events] == [250000, 250000, 250000]
    assert all(e["icmp"]["request"]["type"] == 8 and e["icmp"]["response"]["type"] == 0 for e in events)


def test_a_self_ping_flow_counts_requests_to_the_source_and_replies_to_the_destination(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    packets = []
    for seq in range(3):
        packets.append((t0 + seq, icmp_frame("127.0.0.1", "127.0.0.1", 0x1234, seq)))
        packets.append((t0 + seq + 0.00025, icmp_frame("127.0.0.1", "127.0.0.1", 0x1234, seq, reply=True)))
    path = tmp_path / "self_ping.pcap"
    write_pcap(str(path), packets)
    flows = [e for e in events_from_pcap(str(path), {"packetshipper": {"flows": {"enabled": True}}})
             if e["type"] == "flow" and e["flow"]["final"]]
    assert len(flows) == 1
    (flow,) = flows
    frame = len(packets[0][1])
    assert (flow["source"]["packets"], flow["source"]["bytes"]) == (3, 3 * frame)
    assert (flow["destination"]["packets"], flow["destination"]["bytes"]) == (3, 3 * frame)
    assert flow["source"]["ip"] == flow["destination"]["ip"] == "127.0.0.1"
