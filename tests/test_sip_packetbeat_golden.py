"""Packetbeat's three SIP golden files (test_0099_golden_files.py) under its own comparison.

The expected events are Packetbeat's; the case options come from golden-tests.yml: Packetbeat's
config template turns `transport_protocol: tcp` into the SIP module's `transport: tcp`.
"""

from __future__ import annotations

from typing import Any

import pytest
from golden import HOST_DEPENDENT, PCAPS, assert_matches, clean, expected_events, flatten, golden_cases
from packetshipper.testing import events_from_pcap

# Envelope fields the core adds beyond Packetbeat's SIP output: the link layer's addresses.
ENVELOPE_ADDITIONS = ("source.mac", "destination.mac", "client.mac", "server.mac")

CASES = golden_cases("SIP")


def sip_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "sip", **options}], "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "sip"]


def module_options(template: dict[str, Any]) -> dict[str, Any]:
    return {"transport": template["transport_protocol"]} if "transport_protocol" in template else {}


def test_three_sip_cases_are_found() -> None:
    assert sorted(name for name, _, _ in CASES) == ["sip", "sip_authenticated_register", "sip_through_tcp"]


@pytest.mark.parametrize(("name", "pcap", "template"), CASES, ids=[c[0] for c in CASES])
def test_golden_file(name: str, pcap: str, template: dict[str, Any]) -> None:
    got = [clean(flatten(e), HOST_DEPENDENT + ENVELOPE_ADDITIONS) for e in sip_events(pcap, **module_options(template))]
    assert_matches(expected_events(name), got)


def test_tcp_capture_over_udp_default_gives_nothing() -> None:
    # Packetbeat's default transport is UDP: the TCP capture yields no SIP event without `transport: tcp`.
    assert sip_events("sip_tcp.pcap") == []


def test_both_transports_read_both_captures() -> None:
    assert len(sip_events("sip_tcp.pcap", transport="both")) == len(expected_events("sip_through_tcp"))
    assert len(sip_events("sip.pcap", transport="both")) == len(expected_events("sip"))
