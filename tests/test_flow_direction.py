"""`network.direction` from `packetshipper.interfaces.internal_networks`, on flow and transaction events.

The expected values are the definition (Packetbeat's, ECS's): client and server both inside is
internal, neither is external, an inside client to an outside server is outbound, the reverse inbound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper.config import validate_config
from packetshipper.direction import DirectionClassifier
from packetshipper.pcapgen import http_request, http_response, tcp_frame, udp_frame, write_pcap
from packetshipper.settings import ConfigError
from packetshipper.testing import run_pcap

T0 = 1_700_000_000.0


def _flows(path: Path, networks: list[str], **interfaces: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"flows": {"enabled": True},
                                "interfaces": {"internal_networks": networks, **interfaces}}}
    return [e for e in run_pcap(str(path), config).events if e["type"] == "flow" and e["flow"]["final"]]


def _udp_exchanges(tmp_path: Path, pairs: list[tuple[str, str]]) -> Path:
    packets = []
    for i, (client, server) in enumerate(pairs):
        packets.append((T0 + i, udp_frame(client, server, 40000 + i, 53, b"q")))
        packets.append((T0 + i + 0.001, udp_frame(server, client, 53, 40000 + i, b"a")))
    path = tmp_path / "udp.pcap"
    write_pcap(str(path), packets)
    return path


CASES = [("10.0.0.1", "10.0.0.2", "internal"), ("10.0.0.1", "8.8.8.8", "outbound"),
         ("8.8.8.8", "10.0.0.1", "inbound"), ("8.8.8.8", "1.1.1.1", "external")]


def test_the_four_directions_with_the_private_set(tmp_path: Path) -> None:
    path = _udp_exchanges(tmp_path, [(c, s) for c, s, _ in CASES])
    got = {(f["source"]["ip"], f["destination"]["ip"]): f["network"]["direction"] for f in _flows(path, ["private"])}
    assert got == {(c, s): d for c, s, d in CASES}


def test_the_four_directions_with_cidrs(tmp_path: Path) -> None:
    cases = [("192.0.2.1", "192.0.2.200", "internal"), ("192.0.2.1", "203.0.113.9", "outbound"),
             ("198.51.100.7", "192.0.2.7", "inbound"), ("198.51.100.7", "203.0.113.9", "external"),
             ("2001:db8:1::1", "2001:db8:1::2", "internal"), ("2001:db8:1::1", "2001:db8:2::1", "outbound")]
    path = _udp_exchanges(tmp_path, [(c, s) for c, s, _ in cases])
    got = {(f["source"]["ip"], f["destination"]["ip"]): f["network"]["direction"]
           for f in _flows(path, ["192.0.2.0/24", "2001:db8:1::/48"])}
    assert got == {(c, s): d for c, s, d in cases}


def test_no_direction_without_internal_networks(tmp_path: Path) -> None:
    path = _udp_exchanges(tmp_path, [("10.0.0.1", "8.8.8.8")])
    (flow,) = [e for e in run_pcap(str(path), {"packetshipper": {"flows": {"enabled": True}}}).events
               if e["type"] == "flow"]
    assert "direction" not in flow["network"]


def _tcp_midstream(tmp_path: Path, first_from_server: bool, flags: str = "PA") -> Path:
    client, server, cport = "10.0.0.5", "198.51.100.1", 45000
    to_server = tcp_frame(client, server, cport, 80, b"GET / HTTP/1.1\r\n\r\n", flags="PA", seq=1, ack=1)
    to_client = tcp_frame(server, client, 80, cport, b"HTTP/1.1 200 OK\r\n\r\n", flags=flags, seq=1, ack=20)
    frames = [to_client, to_server] if first_from_server else [to_server, to_client]
    path = tmp_path / "midstream.pcap"
    write_pcap(str(path), [(T0 + i * 0.01, frame) for i, frame in enumerate(frames)])
    return path


def test_without_a_syn_the_side_on_an_ephemeral_port_is_the_client(tmp_path: Path) -> None:
    (flow,) = _flows(_tcp_midstream(tmp_path, first_from_server=True), ["private"])
    # Packetbeat's fields are untouched: source is still the first sender (the server here) ...
    assert (flow["source"]["ip"], flow["source"]["port"]) == ("198.51.100.1", 80)
    # ... but the direction is the connection's: an inside client to an outside server.
    assert flow["network"]["direction"] == "outbound"


def test_a_syn_ack_seen_first_makes_its_receiver_the_client(tmp_path: Path) -> None:
    path = tmp_path / "synack.pcap"
    write_pcap(str(path), [(T0, tcp_frame("198.51.100.1", "10.0.0.5", 8080, 9000, flags="SA", seq=0, ack=1)),
                           (T0 + 0.01, tcp_frame("10.0.0.5", "198.51.100.1", 9000, 8080, flags="A", seq=1, ack=1))])
    # 9000 is not ephemeral: only the SYN-ACK says who the client is.
    (flow,) = _flows(path, ["private"])
    assert flow["network"]["direction"] == "outbound"


def test_the_ephemeral_range_is_configurable(tmp_path: Path) -> None:
    path = _tcp_midstream(tmp_path, first_from_server=True)
    (flow,) = _flows(path, ["private"], ephemeral_ports="1024-2048")
    # 45000 is no longer ephemeral and neither side is: the first sender (the server) counts as client.
    assert flow["network"]["direction"] == "inbound"


def test_transactions_carry_the_direction_of_their_client_and_server(tmp_path: Path) -> None:
    client, server = "192.168.1.20", "203.0.113.80"
    request, response = http_request("/", "example.com"), http_response(b"hello")
    frames = [tcp_frame(client, server, 50000, 80, flags="S", seq=0),
              tcp_frame(server, client, 80, 50000, flags="SA", seq=0, ack=1),
              tcp_frame(client, server, 50000, 80, request, flags="PA", seq=1, ack=1),
              tcp_frame(server, client, 80, 50000, response, flags="PA", seq=1, ack=1 + len(request))]
    path = tmp_path / "http.pcap"
    write_pcap(str(path), [(T0 + i * 0.01, frame) for i, frame in enumerate(frames)])
    config = {"packetshipper": {"protocols": [{"type": "http"}], "interfaces": {"internal_networks": ["private"]}}}
    events = run_pcap(str(path), config).events
    (http,) = [e for e in events if e["type"] == "http"]
    assert http["network"]["direction"] == "outbound"
    assert all(e["network"]["direction"] == "outbound" for e in events)


@pytest.mark.parametrize("networks", [["private", "nonsense"], ["10.0.0.0/33"], "not-a-net"])
def test_a_bad_network_is_a_config_error_naming_the_key(networks: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"packetshipper": {"interfaces": {"internal_networks": networks}}})
    assert "packetshipper.interfaces.internal_networks" in str(caught.value)


def test_named_sets() -> None:
    inside = DirectionClassifier(["loopback", "link_local"])
    assert inside.internal("127.0.0.1") and inside.internal("::1") and inside.internal("fe80::1")
    assert inside.internal("169.254.3.4") and not inside.internal("10.0.0.1")
    multicast = DirectionClassifier(["multicast"])
    assert multicast.internal("224.0.0.251") and multicast.internal("ff02::1") and not multicast.internal("8.8.8.8")
    public = DirectionClassifier(["public"])
    assert public.internal("8.8.8.8") and not public.internal("192.168.0.1") and not public.internal("127.0.0.1")
    unicast = DirectionClassifier(["unicast"])
    assert unicast.internal("192.168.0.1") and not unicast.internal("255.255.255.255")
