"""Packetbeat's test_0066_dhcp on its dhcp.pcap: four events (discover, offer, request, ack), every value
its assertions list, community IDs included, read from the events flattened as Packetbeat's test
harness reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

REQUEST_LIST = ["Subnet Mask", "Router", "Domain Name Server", "NTP Servers"]
COMMON = {"dhcpv4.client_mac": "00:0b:82:01:fc:42", "dhcpv4.flags": "unicast", "dhcpv4.hardware_type": "Ethernet",
          "dhcpv4.hops": 0, "dhcpv4.seconds": 0, "event.dataset": "dhcpv4", "status": "OK", "type": "dhcpv4",
          "network.type": "ipv4", "network.transport": "udp", "network.protocol": "dhcpv4", "client.port": 68,
          "server.port": 67}
EXPECTED: list[dict[str, Any]] = [
    {"client.ip": "0.0.0.0", "destination.ip": "255.255.255.255", "dhcpv4.op_code": "bootrequest",
     "dhcpv4.option.message_type": "discover", "dhcpv4.option.parameter_request_list": REQUEST_LIST,
     "dhcpv4.option.requested_ip_address": "0.0.0.0", "dhcpv4.transaction_id": "0x00003d1d",
     "server.ip": "255.255.255.255", "source.ip": "0.0.0.0", "network.bytes": 272,
     "network.community_id": "1:t9O1j0qj71O4wJM7gnaHtgmfev8="},
    {"client.ip": "192.168.0.10", "destination.ip": "192.168.0.10", "dhcpv4.assigned_ip": "192.168.0.10",
     "dhcpv4.op_code": "bootreply", "dhcpv4.option.ip_address_lease_time_sec": 3600,
     "dhcpv4.option.message_type": "offer", "dhcpv4.option.rebinding_time_sec": 3150,
     "dhcpv4.option.renewal_time_sec": 1800, "dhcpv4.option.server_identifier": "192.168.0.1",
     "dhcpv4.option.subnet_mask": "255.255.255.0", "dhcpv4.transaction_id": "0x00003d1d", "network.bytes": 300,
     "network.community_id": "1:VbRSZnvQqvLiQRhYHLrdVI17sLQ=", "server.bytes": 300, "server.ip": "192.168.0.1",
     "source.ip": "192.168.0.1"},
    {"client.ip": "0.0.0.0", "dhcpv4.op_code": "bootrequest", "dhcpv4.option.message_type": "request",
     "dhcpv4.option.parameter_request_list": REQUEST_LIST, "dhcpv4.option.requested_ip_address": "192.168.0.10",
     "dhcpv4.option.server_identifier": "192.168.0.1", "dhcpv4.transaction_id": "0x00003d1e", "network.bytes": 272,
     "network.community_id": "1:t9O1j0qj71O4wJM7gnaHtgmfev8=", "server.ip": "255.255.255.255"},
    {"client.ip": "192.168.0.10", "destination.ip": "192.168.0.10", "dhcpv4.assigned_ip": "192.168.0.10",
     "dhcpv4.op_code": "bootreply", "dhcpv4.option.ip_address_lease_time_sec": 3600,
     "dhcpv4.option.message_type": "ack", "dhcpv4.option.rebinding_time_sec": 3150,
     "dhcpv4.option.renewal_time_sec": 1800, "dhcpv4.option.server_identifier": "192.168.0.1",
     "dhcpv4.option.subnet_mask": "255.255.255.0", "dhcpv4.transaction_id": "0x00003d1e", "network.bytes": 300,
     "network.community_id": "1:VbRSZnvQqvLiQRhYHLrdVI17sLQ=", "server.ip": "192.168.0.1", "source.ip": "192.168.0.1"},
]


def flatten(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def events(packetbeat_data_dir: Path) -> list[dict[str, Any]]:
    everything = events_from_pcap(str(packetbeat_data_dir / "dhcp.pcap"),
                                  {"packetshipper": {"protocols": [{"type": "dhcpv4"}]}})
    return [flatten(e) for e in everything if e["type"] == "dhcpv4"]


@pytest.fixture(scope="module")
def packetbeat_data_dir() -> Path:
    return Path(__file__).parent / "pcaps" / "packetbeat"


def test_four_events(events: list[dict[str, Any]]) -> None:
    assert len(events) == 4


@pytest.mark.parametrize("index", range(4))
def test_each_assertion_of_test_0066(events: list[dict[str, Any]], index: int) -> None:
    event = events[index]
    assert "event.start" in event
    expected = {**COMMON, **EXPECTED[index]}
    assert {key: event.get(key) for key in expected} == expected


def test_only_the_addresses_that_are_set_are_reported(events: list[dict[str, Any]]) -> None:
    # discover and request carry no ciaddr/yiaddr/giaddr (tshark shows 0.0.0.0), and no options Packetbeat
    # would name beyond those asserted
    for event in (events[0], events[2]):
        assert not {"dhcpv4.client_ip", "dhcpv4.assigned_ip", "dhcpv4.relay_ip"} & set(event)
    assert events[1]["dhcpv4.server_ip"] == "192.168.0.1"  # siaddr of the offer, per tshark
    assert "dhcpv4.server_ip" not in events[3]  # the ack's siaddr is 0.0.0.0
