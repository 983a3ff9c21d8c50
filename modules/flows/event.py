"""Flow events, shaped like Packetbeat's flows worker output. The only place naming flow fields."""

from __future__ import annotations

import socket
from typing import Any

from packetshipper.decode.headers import IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, TRANSPORT_NAMES
from packetshipper.event import duration_ns, iso_timestamp
from packetshipper.flows import Flow

__all__ = ["flow_event", "format_mac", "format_ip"]


def format_mac(mac: bytes) -> str:
    """ECS form: upper-case hex pairs joined by dashes, `0A-00-27-00-00-00`."""
    return mac.hex("-").upper()


def format_ip(address: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(address) == 4 else socket.AF_INET6, address)


def flow_event(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> dict[str, Any]:
    vlans, proto = flow.vlans, flow.proto
    src, dst, sport, dport = flow.endpoints()
    packets0, bytes0, packets1, bytes1 = counts
    source: dict[str, Any] = {"ip": format_ip(src)}
    destination: dict[str, Any] = {"ip": format_ip(dst)}
    network: dict[str, Any] = {"type": f"ipv{flow.ip_version}"}
    transport = TRANSPORT_NAMES.get(proto)
    if transport is not None:
        network["transport"] = transport
    else:
        network["iana_number"] = str(proto)
    if proto in (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP):
        source["port"] = sport
        destination["port"] = dport
    if flow.src_mac is not None and flow.dst_mac is not None:
        source["mac"] = format_mac(flow.src_mac)
        destination["mac"] = format_mac(flow.dst_mac)
    source["packets"] = packets0
    source["bytes"] = bytes0
    if flow.packets1:
        destination["packets"] = packets1
        destination["bytes"] = bytes1
    network["packets"] = packets0 + packets1
    network["bytes"] = bytes0 + bytes1
    if flow.community_id:
        network["community_id"] = flow.community_id
    flow_fields: dict[str, Any] = {"id": flow.flow_id, "final": final}
    if vlans:
        flow_fields["vlan"] = vlans[0] if len(vlans) == 1 else list(vlans)
    return {
        "@timestamp": iso_timestamp(now),
        "type": "flow",
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"] if final else ["connection"],
            "action": "network_flow",
            "dataset": "flow",
            "start": iso_timestamp(flow.start),
            "end": iso_timestamp(flow.last),
            "duration": duration_ns(flow.start, flow.last),
        },
        "flow": flow_fields,
        "source": source,
        "destination": destination,
        "network": network,
    }
