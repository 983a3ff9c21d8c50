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
