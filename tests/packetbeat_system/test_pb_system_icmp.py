"""Packetbeat's test_0050_icmp.py (elastic/beats packetbeat/tests/system), re-run assertion by assertion.

Its field names are Packetbeat 8's. The stored versions differ: one asserts event.category, event.type and
related.ip too (kept here) and @timestamp cut to milliseconds ("2015-10-19T21:47:49.900Z"), a later one
@timestamp with microseconds ("...49.900657Z"), which is what is asserted. Ours, until issue 12 item 4
lands, has milliseconds: see timestamps.py (compared to the millisecond here, exactly in the strict xfail
test_microsecond_timestamps).
"""

from __future__ import annotations

from typing import Any

import pytest

from packetbeat_system.template import read_output, render_config
from packetbeat_system.timestamps import EXACT_TIMESTAMPS, assert_same_instant


def _run(pcap: str) -> list[dict[str, Any]]:
    return read_output(pcap, render_config())


def assert_common_fields(objs: list[dict[str, Any]]) -> None:
    assert all(o["type"] == "icmp" for o in objs)
    assert all(o["event.dataset"] == "icmp" for o in objs)
    assert all(o["event.category"] == ["network"] for o in objs)
    assert all(o["event.type"] == ["connection"] for o in objs)
    assert all(o["source.bytes"] == 4 for o in objs)
    assert all(o["destination.bytes"] == 4 for o in objs)
    assert all(("server.port" in o) is False for o in objs)
    assert all(("transport" in o) is False for o in objs)


def assert_common_icmp4_fields(obj: dict[str, Any]) -> None:
    assert obj["network.transport"] == "icmp"
    assert obj["server.ip"] == "10.0.0.2"
    assert obj["client.ip"] == "10.0.0.1"
    assert obj["related.ip"] == ["10.0.0.1", "10.0.0.2"]
    assert obj["path"] == "10.0.0.2"
    assert obj["status"] == "OK"
    assert obj["icmp.request.message"] == "EchoRequest(0)"
    assert obj["icmp.request.type"] == 8
    assert obj["icmp.request.code"] == 0
    assert obj["icmp.response.message"] == "EchoReply(0)"
    assert obj["icmp.response.type"] == 0
    assert obj["icmp.response.code"] == 0


def assert_common_icmp6_fields(obj: dict[str, Any]) -> None:
    assert obj["network.transport"] == "ipv6-icmp"
    assert obj["server.ip"] == "::2"
    assert obj["client.ip"] == "::1"
    assert obj["path"] == "::2"
    assert obj["status"] == "OK"
    assert obj["icmp.request.message"] == "EchoRequest(0)"
    assert obj["icmp.request.type"] == 128
    assert obj["icmp.request.code"] == 0
    assert obj["icmp.response.message"] == "EchoReply(0)"
    assert obj["icmp.response.type"] == 129
    assert obj["icmp.response.code"] == 0


def test_2_pings() -> None:
    objs = _run("icmp/icmp_2_pings.pcap")
    assert len(objs) == 2
    assert all(o["icmp.version"] == 4 for o in objs)
    assert_same_instant(objs[0]["@timestamp"], "2015-10-19T21:47:49.900657Z")
    assert objs[0]["event.duration"] == 12152000
    assert_same_instant(objs[1]["@timestamp"], "2015-10-19T21:47:49.924909Z")
    assert objs[1]["event.duration"] == 11935000
    assert_common_fields(objs)
    assert_common_icmp4_fields(objs[0])
    assert_common_icmp4_fields(objs[1])


def test_icmp4_ping() -> None:
    objs = _run("icmp/icmp4_ping.pcap")
    assert len(objs) == 1
    assert objs[0]["icmp.version"] == 4
    assert_same_instant(objs[0]["@timestamp"], "2015-10-19T20:49:23.817185Z")
    assert objs[0]["event.duration"] == 20130000
    assert_common_fields(objs)
    assert_common_icmp4_fields(objs[0])


def test_icmp4_ping_over_vlan() -> None:
    objs = _run("icmp/icmp4_ping_over_vlan.pcap")
    assert len(objs) == 1
    assert objs[0]["icmp.version"] == 4
    assert_same_instant(objs[0]["@timestamp"], "2015-10-19T20:49:23.849085Z")
    assert objs[0]["event.duration"] == 12192000
    assert_common_fields(objs)
    assert_common_icmp4_fields(objs[0])


def test_icmp6_ping() -> None:
    objs = _run("icmp/icmp6_ping.pcap")
    assert len(objs) == 1
    assert objs[0]["icmp.version"] == 6
    assert_same_instant(objs[0]["@timestamp"], "2015-10-19T20:49:23.872952Z")
    assert objs[0]["event.duration"] == 16439000
    assert_common_fields(objs)
    assert_common_icmp6_fields(objs[0])


def test_icmp6_ping_over_vlan() -> None:
    objs = _run("icmp/icmp6_ping_over_vlan.pcap")
    assert len(objs) == 1
    assert objs[0]["icmp.version"] == 6
    assert_same_instant(objs[0]["@timestamp"], "2015-10-19T20:49:23.901349Z")
    assert objs[0]["event.duration"] == 12333000
    assert_common_fields(objs)
    assert_common_icmp6_fields(objs[0])


@EXACT_TIMESTAMPS
@pytest.mark.parametrize(("pcap", "timestamps"), [
    ("icmp/icmp_2_pings.pcap", ["2015-10-19T21:47:49.900657Z", "2015-10-19T21:47:49.924909Z"]),
    ("icmp/icmp4_ping.pcap", ["2015-10-19T20:49:23.817185Z"]),
    ("icmp/icmp4_ping_over_vlan.pcap", ["2015-10-19T20:49:23.849085Z"]),
    ("icmp/icmp6_ping.pcap", ["2015-10-19T20:49:23.872952Z"]),
    ("icmp/icmp6_ping_over_vlan.pcap", ["2015-10-19T20:49:23.901349Z"]),
])
def test_microsecond_timestamps(pcap: str, timestamps: list[str]) -> None:
    assert [o["@timestamp"] for o in _run(pcap)] == timestamps
