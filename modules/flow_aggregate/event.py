"""Flow rollup events: the only place naming their fields."""

from __future__ import annotations

from typing import Any

from packetshipper.decode.headers import TRANSPORT_NAMES
from packetshipper.event import duration_ns, iso_timestamp
from packetshipper.flow_aggregate import Rollup
from packetshipper.modules.flows.event import format_ip

__all__ = ["rollup_event"]


def rollup_event(key_fields: list[str], key: tuple[Any, ...], rollup: Rollup, start: float, end: float) -> dict[str, Any]:
    source: dict[str, Any] = {"packets": rollup.packets0, "bytes": rollup.bytes0}
    destination: dict[str, Any] = {"packets": rollup.packets1, "bytes": rollup.bytes1}
    network: dict[str, Any] = {"packets": rollup.packets0 + rollup.packets1, "bytes": rollup.bytes0 + rollup.bytes1}
    event: dict[str, Any] = {
        "@timestamp": iso_timestamp(end),
        "type": "flow_aggregate",
        "event": {"kind": "metric", "category": ["network"], "type": ["connection"], "dataset": "flow_aggregate",
                  "start": iso_timestamp(start), "end": iso_timestamp(end), "duration": duration_ns(start, end)},
        "source": source,
        "destination": destination,
        "network": network,
        "flow_aggregate": {"flows": rollup.flows, "source_ports": sorted(rollup.ports),
                           "source_port_count": rollup.port_count},
    }
    for field, value in zip(key_fields, key, strict=True):
        if field == "source.ip":
            source["ip"] = format_ip(value)
        elif field == "destination.ip":
            destination["ip"] = format_ip(value)
        elif field == "source.port":
            source["port"] = value
        elif field == "destination.port":
            destination["port"] = value
        elif field == "network.transport":
            name = TRANSPORT_NAMES.get(value)
            if name is None:
                network["iana_number"] = str(value)
            else:
                network["transport"] = name
        elif field == "network.type":
            network["type"] = f"ipv{value}"
        elif field == "flow.vlan" and value:
            event["flow"] = {"vlan": value[0] if len(value) == 1 else list(value)}
    return event
