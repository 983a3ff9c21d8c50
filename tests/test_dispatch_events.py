"""What the dispatcher publishes: the event envelope, UDP and ICMP routing, ports, BPF and counters."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from packetshipper.decode.packet import Packet
from packetshipper.dispatch import DISPATCH_SETTINGS, Dispatcher, mac_text
from packetshipper.event import Envelope
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.registry import build_modules
from packetshipper.runner import build_bpf_filter
from packetshipper.settings import ConfigError, validate
from plugin_example.lineproto import LineModule
from plugin_example.packets import TcpConversation


def line_module(**config: Any) -> LineModule:
    return LineModule(validate({**COMMON_SETTINGS, **LineModule.settings}, {"type": "lineproto", **config}))


def dispatcher(modules: list[Any], **settings: Any) -> tuple[Dispatcher, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    return Dispatcher(modules, events.append, Envelope("test", tags=["global"]), settings), events


def ip(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes, ts: float) -> Packet:
    return Packet(ts, 42 + len(payload), 4, ip(src), ip(dst), 17, sport, dport, payload)


def test_macs_are_printed_as_packetbeat_prints_them() -> None:
    assert mac_text(bytes.fromhex("0a0027000000")) == "0A-00-27-00-00-00"
    assert mac_text(None) is None


def test_module_tags_and_fields_are_added_to_the_envelope() -> None:
    d, events = dispatcher([line_module(tags=["lines"], fields={"team": "net"}, fields_under_root=True)])
    conv = TcpConversation()
    for pkt in [*conv.handshake(), conv.send(True, b"q\n"), conv.send(False, b"a\n")]:
        d.handle(pkt)
    (event,) = events
    assert event["tags"] == ["global", "lines"]
    assert event["team"] == "net"
    assert event["host"] == {"name": "test"} and event["agent"]["name"] == "test"


def test_the_tcp_community_id_matches_the_golden_log() -> None:
    # communityid/golden/tcp.pcap.log: 128.232.110.120:34855 -> 66.35.250.204:80
    d, events = dispatcher([line_module(ports=[80])])
    conv = TcpConversation(client_port=34855, server_port=80, client_ip=ip("128.232.110.120"),
                           server_ip=ip("66.35.250.204"))
    for pkt in [*conv.handshake(), conv.send(True, b"q\n"), conv.send(False, b"a\n")]:
        d.handle(pkt)
    assert events[0]["network"]["community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def test_udp_datagrams_are_routed_by_port_and_paired_in_their_flow() -> None:
    d, events = dispatcher([line_module(ports=[53])])
    # communityid/golden/udp.pcap.log: 192.168.1.52:54585 -> 8.8.8.8:53
    d.handle(udp("8.8.8.8", "192.168.1.52", 53, 54585, b"stray\n", 1.0))
    d.handle(udp("192.168.1.52", "8.8.8.8", 54585, 53, b"query\n", 2.0))
    d.handle(udp("8.8.8.8", "192.168.1.52", 53, 54585, b"answer\n", 2.25))
    assert [(e["lineproto"].get("request"), e["lineproto"].get("response"), e["status"]) for e in events] == [
        (None, "stray", "Error"), ("query", "answer", "OK")]
    event = events[1]
    assert event["client"] == {"ip": "192.168.1.52", "port": 54585, "bytes": 6}
    assert event["server"] == {"ip": "8.8.8.8", "port": 53, "bytes": 7}
    assert event["network"]["transport"] == "udp"
    assert event["network"]["community_id"] == "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
    assert event["event"]["duration"] == 250_000_000
    assert d.stats()["udp"]["flows"] == 1


def test_udp_flows_expire_when_idle_and_report_what_is_pending() -> None:
    d, events = dispatcher([line_module(ports=[53], transaction_timeout="60s")], udp={"idle_timeout": "30s"})
    d.handle(udp("10.1.1.1", "10.1.1.2", 4000, 53, b"q\n", 100.0))
    d.tick(129.0)
    assert events == [] and d.stats()["udp"]["flows"] == 1
    d.tick(131.0)
    assert [e["error"]["message"] for e in events] == ["Unmatched request"]
    assert d.stats()["udp"] == {"flows": 0, "flows_total": 1, "flows_over_limit": 0, "flows_expired": 1}


def test_udp_flows_over_the_limit_are_counted() -> None:
    d, events = dispatcher([line_module(ports=[53])], udp={"max_flows": 1})
    d.handle(udp("10.1.1.1", "10.1.1.2", 4000, 53, b"q\n", 1.0))
    d.handle(udp("10.1.1.1", "10.1.1.2", 4001, 53, b"q\n", 1.0))
    assert d.stats()["udp"]["flows_over_limit"] == 1


def test_the_dispatcher_announces_what_it_wants() -> None:
    modules = build_modules([{"type": "icmp"}, {"type": "http", "ports": [80, 8080]}])
    d, _ = dispatcher(modules)
    assert d.tcp_ports == frozenset({80, 8080}) and d.udp_ports == frozenset() and d.wants_icmp
    # The capture filter Packetbeat would build from the same modules (used when flows are off).
    assert build_bpf_filter(modules) == "icmp or icmp6 or tcp port 80 or tcp port 8080"
    assert build_bpf_filter(modules, with_vlans=True) == (
        "(icmp or icmp6 or tcp port 80 or tcp port 8080) or (vlan and (icmp or icmp6 or tcp port 80 or tcp port 8080))")
    assert set(d.stats()["modules"]) == {"icmp", "http"}


def test_icmp_reaches_the_icmp_module_and_nothing_else_is_dispatched() -> None:
    d, events = dispatcher(build_modules([{"type": "icmp"}]))
    request = bytes.fromhex("080010200005000174657374")
    reply = bytes.fromhex("000018200005000174657374")
    d.handle(Packet(1.0, 46, 4, ip("10.0.0.1"), ip("10.0.0.2"), 1, payload=request))
    d.handle(Packet(1.5, 46, 4, ip("10.0.0.2"), ip("10.0.0.1"), 1, payload=reply))
    d.handle(Packet(1.6, 46, 4, ip("10.0.0.2"), ip("10.0.0.1"), 47, payload=b"gre"))
    d.handle(Packet(1.7, 46, 4, ip("10.0.0.2"), ip("10.0.0.1"), 1, payload=b"\x08"))  # truncated
    assert [e["icmp"]["request"]["type"] for e in events] == [8]
    stats = d.stats()
    assert stats["dispatch"]["ignored_packets"] == 1
    assert stats["modules"]["icmp"]["protocol_errors"] == 1


def test_dispatch_settings_are_validated_with_named_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        validate(DISPATCH_SETTINGS, {"tcp": {"max_conections": 5}}, "packetshipper")
    assert caught.value.path == "packetshipper.tcp.max_conections"
    defaults = validate(DISPATCH_SETTINGS, {})
    assert defaults["tcp"]["max_out_of_order_bytes_per_connection"] == 1 << 20
    assert validate(DISPATCH_SETTINGS, {"tcp": {"gap_timeout": "500ms"}})["tcp"]["gap_timeout"] == 0.5
