"""Flow events, shaped like Packetbeat's flows worker output. The only place naming flow fields."""

from __future__ import annotations

import socket
from typing import Any

from packetshipper import hotpath
from packetshipper.debuglog import debug_log
from packetshipper.decode.headers import IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, TRANSPORT_NAMES
from packetshipper.event import duration_ns, host_port, iso_timestamp
from packetshipper.flows import Flow

__all__ = ["flow_event", "flow_event_json", "flow_documents", "format_mac", "format_ip"]

DEBUG = debug_log("flows")  # `-d flows`: a line per flow report


def format_mac(mac: bytes) -> str:
    """ECS form: upper-case hex pairs joined by dashes, `0A-00-27-00-00-00`."""
    return mac.hex("-").upper()


def format_ip(address: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(address) == 4 else socket.AF_INET6, address)


# The compiled twins of flow_event and _static_parts (shipper/_flow_event.pxi); None with the pure path
# or an older build.
_compiled_event: Any = getattr(hotpath.compiled, "flow_event", None)
_compiled_parts: Any = getattr(hotpath.compiled, "static_parts", None)

_Parts = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], str, "str | None"]


def _static_parts(flow: Flow) -> _Parts:
    """What stays the same across a flow's reports: built on its first report, kept on the flow. The
    community ID is one of them except for ICMP flows (theirs follows the latest type and code; None)."""
    if _compiled_parts is not None and hotpath.enabled:
        parts: _Parts = _compiled_parts(flow, TRANSPORT_NAMES, iso_timestamp, _reference_parts)
        return parts
    return _reference_parts(flow)


def _reference_parts(flow: Flow) -> _Parts:
    vlans, proto = flow.vlans, flow.proto
    src, dst, sport, dport = flow.endpoints()
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
    flow_fields: dict[str, Any] = {"id": flow.flow_id}
    if vlans:
        flow_fields["vlan"] = vlans[0] if len(vlans) == 1 else list(vlans)
    community = flow.community_id if flow.icmp_type < 0 else None
    return source, destination, network, flow_fields, iso_timestamp(flow.start), community


_report_stamp: tuple[float, str] = (float("nan"), "")


def _report_time(now: float) -> str:
    """A periodic report stamps every active flow with the same time: format it once."""
    global _report_stamp
    stamp = _report_stamp
    if stamp[0] != now:
        stamp = _report_stamp = (now, iso_timestamp(now))
    return stamp[1]


def _where(endpoint: dict[str, Any]) -> str:
    return host_port(endpoint["ip"], endpoint.get("port"))


def flow_event(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> dict[str, Any]:
    if _compiled_event is not None and hotpath.enabled and not DEBUG.enabled:
        event: dict[str, Any] = _compiled_event(flow, now, final, counts, _static_parts, iso_timestamp)
        return event
    parts = flow.event_cache
    if parts is None:
        parts = flow.event_cache = _static_parts(flow)
    source_base, destination_base, network_base, flow_base, start, community = parts
    packets0, bytes0, packets1, bytes1 = counts
    source = {**source_base, "packets": packets0, "bytes": bytes0}
    if flow.packets1:
        destination = {**destination_base, "packets": packets1, "bytes": bytes1}
    else:
        destination = destination_base.copy()
    network = {**network_base, "packets": packets0 + packets1, "bytes": bytes0 + bytes1}
    if community is None:
        community = flow.community_id  # an ICMP flow's follows its latest type and code
    if community:
        network["community_id"] = community
    if DEBUG.enabled and DEBUG.admit():
        DEBUG.write("flow %s %s %s -> %s: %s report, %d packets/%d bytes out, %d/%d back, %.3f s",
                    flow_base["id"], network.get("transport", network.get("iana_number")), _where(source_base),
                    _where(destination_base), "final" if final else "periodic", packets0, bytes0, packets1, bytes1,
                    flow.last - flow.start)
    event = {
        "@timestamp": _report_time(now),
        "type": "flow",
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"] if final else ["connection"],
            "action": "network_flow",
            "dataset": "flow",
            "start": start,
            "end": iso_timestamp(flow.last),
            "duration": duration_ns(flow.start, flow.last),
        },
        "flow": {**flow_base, "final": final},
        "source": source,
        "destination": destination,
        "network": network,
    }
    if flow.tcp is not None:
        event["tcp"] = flow.tcp.fields(final)  # totals, also with delta reporting
    return event


_compiled_json: Any = getattr(hotpath.compiled, "flow_event_json", None)


def _flow_event_json(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> bytes | None:
    if not hotpath.enabled or DEBUG.enabled:
        return None
    doc: bytes = _compiled_json(flow, now, final, counts, _static_parts, iso_timestamp)
    return doc


_compiled_documents: Any = getattr(hotpath.compiled, "flow_documents", None)


def _flow_documents(flows: list[Flow], now: float, final: bool, tail: bytes) -> list[bytes] | None:
    if not hotpath.enabled or DEBUG.enabled:
        return None
    docs: list[bytes] = _compiled_documents(flows, now, final, tail, _static_parts, iso_timestamp)
    return docs


# `flow_event_json(...)`: `orjson.dumps(flow_event(...))` made in C without building the event, or None
# for an event the reference must build (`-d flows`; the pure path). None itself without the compiled path.
flow_event_json = _flow_event_json if _compiled_json is not None else None
# `flow_documents(flows, now, final, tail)`: `[flow_event_json(flow, now, final, totals)[:-1] + tail ...]`
# for many flows in one call, or None as flow_event_json.
flow_documents = _flow_documents if _compiled_documents is not None else None
