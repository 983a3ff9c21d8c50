"""ICMP events from Packetbeat's test pcaps, checked against Packetbeat's expected values
(packetbeat/tests/system/test_0050_icmp.py) and the Community ID golden logs."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import run_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
CONFIG = {"packetshipper": {"protocols": [{"type": "icmp"}], "flows": {"enabled": False}}}


def events(name: str) -> list[dict[str, Any]]:
    return run_pcap(str(PCAPS / name), CONFIG).events


def assert_common(event: dict[str, Any]) -> None:
    assert event["type"] == "icmp" and event["event"]["dataset"] == "icmp"
    assert event["source"]["bytes"] == 4 and event["destination"]["bytes"] == 4
    assert "port" not in event["server"] and "transport" not in event
    assert event["status"] == "OK"
    assert event["icmp"]["request"]["message"] == "EchoRequest(0)"
    assert event["icmp"]["request"]["code"] == 0
    assert event["icmp"]["response"]["message"] == "EchoReply(0)"
    assert event["icmp"]["response"]["code"] == 0


def assert_icmp4(event: dict[str, Any]) -> None:
    assert_common(event)
    assert event["icmp"]["version"] == 4
    assert event["network"]["transport"] == "icmp"
    assert (event["client"]["ip"], event["server"]["ip"], event["path"]) == ("10.0.0.1", "10.0.0.2", "10.0.0.2")
    assert (event["icmp"]["request"]["type"], event["icmp"]["response"]["type"]) == (8, 0)


def assert_icmp6(event: dict[str, Any]) -> None:
    assert_common(event)
    assert event["icmp"]["version"] == 6
    assert event["network"]["transport"] == "ipv6-icmp"
    assert (event["client"]["ip"], event["server"]["ip"], event["path"]) == ("::1", "::2", "::2")
    assert (event["icmp"]["request"]["type"], event["icmp"]["response"]["type"]) == (128, 129)


# @timestamp is the request's record time to the microsecond (tshark -T fields -e frame.time_epoch).
@pytest.mark.parametrize(
    ("pcap", "timestamp", "duration", "check", "vlan"),
    [
        ("icmp/icmp4_ping.pcap", "2015-10-19T20:49:23.817185Z", 20130000, assert_icmp4, None),
        ("icmp/icmp4_ping_over_vlan.pcap", "2015-10-19T20:49:23.849085Z", 12192000, assert_icmp4, "10"),
        ("icmp/icmp6_ping.pcap", "2015-10-19T20:49:23.872952Z", 16439000, assert_icmp6, None),
        ("icmp/icmp6_ping_over_vlan.pcap", "2015-10-19T20:49:23.901349Z", 12333000, assert_icmp6, "10"),
    ],
)
def test_one_ping_gives_one_event(pcap: str, timestamp: str, duration: int, check: Any, vlan: str | None) -> None:
    (event,) = events(pcap)
    check(event)
    assert event["@timestamp"] == timestamp
    assert event["event"]["duration"] == duration
    assert event["network"].get("vlan", {}).get("id") == vlan


def test_two_pings_give_two_events_with_packetbeats_durations() -> None:
    first, second = events("icmp/icmp_2_pings.pcap")
    assert_icmp4(first)
    assert_icmp4(second)
    assert (first["@timestamp"], first["event"]["duration"]) == ("2015-10-19T21:47:49.900657Z", 12152000)
    assert (second["@timestamp"], second["event"]["duration"]) == ("2015-10-19T21:47:49.924909Z", 11935000)


def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))  # the logs write 3ffe:507::1:..., RFC 5952 3ffe:507:0:1:...


def golden(name: str) -> dict[tuple[str, str, int, int], str]:
    """(source, destination, type, code) -> community ID, from the flowhash golden log."""
    out = {}
    for line in (PCAPS / "communityid" / "golden" / f"{name}.log").read_text().splitlines():
        _ts, cid, tuple_ = (part.strip() for part in line.split("|"))
        src, dst, _proto, icmp_type, code = tuple_.split()
        out[(_canonical(src), _canonical(dst), int(icmp_type), int(code))] = cid
    return out


@pytest.mark.parametrize("pcap", ["icmp.pcap", "icmp6.pcap"])
def test_community_ids_match_the_golden_logs(pcap: str) -> None:
    expected = golden(pcap)
    found = events(f"communityid/{pcap}")
    assert found
    for event in found:
        first = event["icmp"].get("request") or event["icmp"]["response"]
        client, server = event["client"]["ip"], event["server"]["ip"]
        if "request" not in event["icmp"]:
            client, server = server, client  # an unmatched reply travels server -> client
        assert event["network"]["community_id"] == expected[(client, server, first["type"], first["code"])]


def test_duplicated_echo_requests_are_reported_as_packetbeat_does() -> None:
    # Each second the capture holds the same echo request twice, then its reply.
    found = events("communityid/icmp.pcap")
    assert len(found) == 8
    statuses = [(e["status"], e.get("error", {}).get("message")) for e in found]
    assert statuses == [("Error", "Unmatched request"), ("OK", None)] * 4
    assert all(e["notes"][0].startswith("Another request with the same Id and Seq") for e in found[::2])
