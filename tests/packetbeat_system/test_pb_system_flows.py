"""Packetbeat's test_0060_flows.py (elastic/beats packetbeat/tests/system), re-run assertion by assertion.

Its template, with `flows=True`, sets `packetbeat.flows.timeout: 2s` and `period: -1s`; events are read
with `types=["flow"]` and FLOWS_REQUIRED_FIELDS. The union of the stored versions' assertions (one adds
mysql's event.type). Translation: those versions spell MAC addresses `0a:00:27:00:00:00`; Packetbeat 8
writes ECS's `0A-00-27-00-00-00` (as in its sample_outputs/flow.json), and so do we.
"""

from __future__ import annotations

from typing import Any

from packetbeat_system.template import FLOWS_REQUIRED_FIELDS, read_output, render_config
from packetbeat_system.timestamps import instant


def _flows(pcap: str, **template: Any) -> list[dict[str, Any]]:
    config = render_config(flows=True, shutdown_timeout="1s", **template)
    return read_output(pcap, config, types=("flow",), required_fields=FLOWS_REQUIRED_FIELDS)


def check_fields(flow: dict[str, Any], fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        assert flow[key] == value, f"{key}: {flow.get(key)!r} != {value!r}"


def test_mysql_flow() -> None:
    objs = _flows("mysql_long.pcap")
    assert len(objs) == 1
    check_fields(objs[0], {
        "flow.final": True,
        "source.mac": "0A-00-27-00-00-00",
        "destination.mac": "08-00-27-76-D7-41",
        "destination.ip": "192.168.33.14",
        "source.ip": "192.168.33.1",
        "network.transport": "tcp",
        "source.port": 60137,
        "destination.port": 3306,
        "source.packets": 22,
        "source.bytes": 1480,
        "destination.packets": 10,
        "destination.bytes": 181133,
        "event.type": ["connection", "end"],
    })
    assert instant(objs[0]["event.end"]) > instant(objs[0]["event.start"])


def test_memcache_udp_flow() -> None:
    objs = _flows("memcache/memcache_bin_udp_counter_ops.pcap")
    assert len(objs) == 1
    check_fields(objs[0], {
        "flow.final": True,
        "source.mac": "AC-BC-32-77-41-0B",
        "destination.mac": "08-00-27-DD-3B-28",
        "source.ip": "192.168.188.37",
        "destination.ip": "192.168.188.38",
        "network.transport": "udp",
        "source.port": 63888,
        "destination.port": 11211,
        "source.packets": 3,
        "source.bytes": 280,
    })


def test_icmp4_ping() -> None:
    objs = _flows("icmp/icmp4_ping_over_vlan.pcap")
    assert len(objs) == 1
    check_fields(objs[0], {
        "flow.final": True,
        "source.mac": "00-00-00-00-00-01",
        "destination.mac": "00-00-00-00-00-02",
        "flow.vlan": 10,
        "source.ip": "10.0.0.1",
        "destination.ip": "10.0.0.2",
        "source.bytes": 50,
        "source.packets": 1,
        "destination.bytes": 50,
        "destination.packets": 1,
    })


def test_icmp6_ping() -> None:
    objs = _flows("icmp/icmp6_ping_over_vlan.pcap")
    assert len(objs) == 1
    check_fields(objs[0], {
        "flow.final": True,
        "flow.vlan": 10,
        "source.mac": "00-00-00-00-00-01",
        "source.ip": "::1",
        "source.bytes": 70,
        "source.packets": 1,
        "destination.mac": "00-00-00-00-00-02",
        "destination.ip": "::2",
        "destination.bytes": 70,
        "destination.packets": 1,
        "network.bytes": 140,
        "network.packets": 2,
    })


def test_q_in_q_flow() -> None:
    objs = _flows("802.1q-q-in-q-icmp.pcap")
    assert len(objs) == 1
    check_fields(objs[0], {
        "flow.final": True,
        "flow.vlan": [101, 600],
        "source.ip": "192.168.1.1",
        "source.bytes": 82,
        "source.packets": 1,
        "source.mac": "08-00-27-3D-25-4E",
        "destination.mac": "1C-AF-F7-70-ED-7C",
        "destination.ip": "192.168.1.2",
        "network.bytes": 82,
        "network.packets": 1,
    })


DROP_ALL_BUT_FLOWS = [{"drop_event": {"when": {"not.equals.type": "flow"}}}]


def check_community_id(pcap: str, **template: Any) -> list[dict[str, Any]]:
    return _flows(f"communityid/{pcap}", processors=DROP_ALL_BUT_FLOWS, **template)


def test_community_id_icmp() -> None:
    objs = check_community_id("icmp.pcap")
    assert len(objs) == 1
    assert objs[0]["network.community_id"] == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="


PACKETBEAT_ICMP6_IDS = ["1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:GpbEQrKqfWtsfsFiqg8fufoZe5Y=",
                        "1:bnQKq8A2r//dWnkRW2EYcMhShjc=", "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
                        "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
                        "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:pkvHqCL88/tg1k4cPigmZXUtL00=",
                        "1:jwuBy9UWZK1KUFqJV5cHdVpfrlY=", "1:MEixa66kuz0OMvlQqnAIzP3n2xg="]


def test_community_id_icmp6() -> None:
    # Deliberate difference: packet-clock timeouts on replay. Packetbeat times flows by the wall clock,
    # so in its run (the 59 s capture read in well under a second) none of the 2 s timeouts fires and it
    # reports 10 flows. A file is replayed here on its own packet clock (deterministic reports), so the
    # pauses longer than 2 s (up to 15 s) end flows and 18 final flows come out (a flow's community ID
    # is that of its latest packet). With a timeout longer than the capture the replay sees what
    # Packetbeat saw: its 10 flows, with its 10 IDs in its order.
    objs = check_community_id("icmp6.pcap", flows_timeout="120s")
    assert len(objs) == 10
    assert [o["network.community_id"] for o in objs] == PACKETBEAT_ICMP6_IDS
    # Under the template's own 2 s: the flows time out on the packet clock, and every one of
    # Packetbeat's IDs is still among them.
    on_packet_clock = check_community_id("icmp6.pcap")
    assert len(on_packet_clock) > 10
    assert set(PACKETBEAT_ICMP6_IDS) <= {o["network.community_id"] for o in on_packet_clock}


def test_community_id_ipv4_tcp() -> None:
    objs = check_community_id("tcp.pcap")
    assert objs, "Packetbeat's loop passes on no flows at all; at least one is wanted here"
    assert all(o["network.community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" for o in objs)


def test_community_id_ipv4_udp() -> None:
    objs = check_community_id("udp.pcap")
    assert objs, "Packetbeat's loop passes on no flows at all; at least one is wanted here"
    assert all(o["network.community_id"] == "1:d/FP5EW3wiY1vCndhwleRRKHowQ=" for o in objs)
