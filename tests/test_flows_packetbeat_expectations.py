"""Flow events on Packetbeat's own captures carry the values Packetbeat's system tests expect.

Expected values come from Packetbeat's test_0060_flows.py (mysql_long, QinQ, VLAN ICMPv6) and from the
community-id golden logs of libbeat's flowhash tests (one line per packet: ts | hash | src dst proto
sport dport), which were produced by an independent implementation.
"""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_address
from pathlib import Path

import pytest
from packetshipper.testing import run_pcap

DATA = Path(__file__).parent / "pcaps" / "packetbeat"
FLOWS_ONLY = {"packetshipper": {"flows": {"enabled": True}}}


def _flows(name: str) -> list[dict]:
    return [e for e in run_pcap(str(DATA / name), FLOWS_ONLY).events if e["type"] == "flow"]


def test_mysql_long_is_one_final_flow_with_packetbeats_counts() -> None:
    finals = [e for e in _flows("mysql_long.pcap") if e["flow"]["final"]]
    assert len(finals) == 1
    flow = finals[0]
    assert flow["source"]["packets"] == 22
    assert flow["source"]["bytes"] == 1480
    assert flow["destination"]["packets"] == 10
    assert flow["destination"]["bytes"] == 181133
    assert flow["source"]["mac"] == "0A-00-27-00-00-00"
    assert flow["destination"]["mac"] == "08-00-27-76-D7-41"
    assert flow["network"]["transport"] == "tcp"
    assert flow["network"]["packets"] == 32
    assert flow["network"]["bytes"] == 1480 + 181133
    assert flow["event"]["type"] == ["connection", "end"]
    assert flow["event"]["action"] == "network_flow"


def test_qinq_frame_gives_both_vlans_outer_first() -> None:
    (flow,) = _flows("802.1q-q-in-q-icmp.pcap")
    assert flow["flow"]["vlan"] == [101, 600]
    assert flow["network"]["bytes"] == 82
    assert flow["network"]["packets"] == 1
    assert flow["network"]["transport"] == "icmp"


def test_icmpv6_over_vlan_gives_the_vlan_and_both_directions() -> None:
    (flow,) = _flows("icmp/icmp6_ping_over_vlan.pcap")
    assert flow["flow"]["vlan"] == 10
    assert flow["source"]["bytes"] == 70
    assert flow["destination"]["bytes"] == 70
    assert flow["network"]["type"] == "ipv6"
    assert flow["network"]["transport"] == "ipv6-icmp"


def _golden(name: str) -> list[tuple[float, str, str, str, int]]:
    rows = []
    for line in (DATA / "communityid" / "golden" / f"{name}.log").read_text().splitlines():
        ts, hash_, tuple_ = (part.strip() for part in line.split("|"))
        src, dst, proto, *_ = tuple_.split()
        # Go writes `3ffe:501::1802:...` where RFC 5952 (and we) write `3ffe:501:0:1802:...`.
        rows.append((float(ts), hash_, ip_address(src), ip_address(dst), int(proto)))
    return rows


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


# Packetbeat's test_0060_flows.py, test_community_id_icmp and test_community_id_icmp6: ICMP between two
# hosts is one flow whatever its types; its community ID is that of its latest packet.
PACKETBEAT_ICMP_COMMUNITY_IDS = {
    "icmp.pcap": ["1:X0snYXpgwiv9TZtqg64sgzUn6Dk="],
    "icmp6.pcap": ["1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:GpbEQrKqfWtsfsFiqg8fufoZe5Y=", "1:bnQKq8A2r//dWnkRW2EYcMhShjc=",
                   "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
                   "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:jwuBy9UWZK1KUFqJV5cHdVpfrlY=",
                   "1:MEixa66kuz0OMvlQqnAIzP3n2xg="],
}


@pytest.mark.parametrize("name", sorted(PACKETBEAT_ICMP_COMMUNITY_IDS))
def test_icmp_flows_and_community_ids_as_packetbeat_reports_them(name: str) -> None:
    # Packetbeat times flows by the wall clock, so in its test (a file read in well under a second) no
    # flow times out; on the packet clock icmp6.pcap's 34 s pause would end one. A longer timeout
    # compares like with like.
    config = {"packetshipper": {"flows": {"enabled": True, "timeout": "120s"}}}
    events = run_pcap(str(DATA / "communityid" / name), config).events
    finals = [e for e in events if e["type"] == "flow" and e["flow"]["final"]]
    assert [f["network"]["community_id"] for f in finals] == PACKETBEAT_ICMP_COMMUNITY_IDS[name]


@pytest.mark.parametrize("name", ["tcp.pcap", "udp.pcap"])
def test_flow_community_ids_match_the_golden_logs(name: str) -> None:
    golden = _golden(name)
    finals = [e for e in _flows(f"communityid/{name}") if e["flow"]["final"]]
    assert finals
    for flow in finals:
        start = _epoch(flow["event"]["start"])
        # The packet that opened the flow: same addresses, same microsecond (event.start has six digits).
        src, dst = ip_address(flow["source"]["ip"]), ip_address(flow["destination"]["ip"])
        first = [row for row in golden if row[2] == src and row[3] == dst
                 and abs(row[0] - start) < 0.5e-6]
        assert first, f"no golden packet opens {flow['source']['ip']} -> {flow['destination']['ip']} at {start}"
        assert flow["network"]["community_id"] == first[0][1]
    # Every hash of the golden log that opens a conversation is some flow's ID.
    assert {f["network"]["community_id"] for f in finals} >= {golden[0][1]}


def test_replaying_a_file_twice_gives_identical_events() -> None:
    first = run_pcap(str(DATA / "http_minitwit.pcap"), FLOWS_ONLY).events
    second = run_pcap(str(DATA / "http_minitwit.pcap"), FLOWS_ONLY).events
    strip = lambda events: [{k: v for k, v in e.items() if k not in ("agent", "host")} for e in events]  # noqa: E731
    assert strip(first) == strip(second)
    assert len(first) > 0
