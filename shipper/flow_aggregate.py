"""Flow rollups (`packetshipper.flows.aggregate`): each period, one event per key (by default source
address, destination address, destination port and transport) with the traffic of every flow under it.

Each flow's counts are taken once per period as the difference from what the previous period took, and
a flow that ends hands over what it has left, so the rollups of a capture sum exactly to its flows' own
counts. Keys are tuples of the flows' own values, never joined strings, so no two keys can collide; at
most `max_keys` are held per period, and the traffic of flows that find no room is counted, not lost
silently. Each key lists at most `max_ports_listed` source ports and counts the distinct ones exactly
(a 65,536-bit map, made only once the list is full).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import settings as s
from .settings import Setting, Spec

if TYPE_CHECKING:
    from .flows import Flow

__all__ = ["AGGREGATE_SETTINGS", "KEY_FIELDS", "FlowAggregator", "Rollup"]

KEY_FIELDS = ("source.ip", "destination.ip", "source.port", "destination.port", "network.transport",
              "network.type", "flow.vlan")
DEFAULT_KEY = ["source.ip", "destination.ip", "destination.port", "network.transport"]


def _key_fields(value: Any) -> list[str]:
    fields = s.string_list(value)
    if not fields:
        raise ValueError("name at least one field")
    unknown = [f for f in fields if f not in KEY_FIELDS]
    if unknown:
        raise ValueError(f"cannot group by {s.quote(unknown[0])} (fields: {', '.join(KEY_FIELDS)})")
    if len(set(fields)) != len(fields):
        raise ValueError("a field is named twice")
    return fields


AGGREGATE_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, False, "also report rollups: one flow_aggregate event per key and period"),
    "period": Setting(s.at_least(1.0, s.duration), 60.0, "the rollup period"),
    "key": Setting(_key_fields, DEFAULT_KEY, f"fields grouped by, of {', '.join(KEY_FIELDS)}"),
    "max_keys": Setting(s.between(1, 10_000_000), 10_000, "keys per period; flows that find no room are counted "
                        "(flows.aggregate_dropped_flows)"),
    "max_ports_listed": Setting(s.between(0, 65536), 10, "source ports listed per key (all are counted)"),
}


class Rollup:
    """One key's traffic in one period."""

    __slots__ = ("flows", "packets0", "bytes0", "packets1", "bytes1", "ports", "port_map", "port_count")

    def __init__(self) -> None:
        self.flows = 0
        self.packets0 = self.bytes0 = self.packets1 = self.bytes1 = 0
        self.ports: list[int] = []
        self.port_map: bytearray | None = None
        self.port_count = 0

    def add_port(self, port: int, listed: int) -> None:
        port_map = self.port_map
        if port_map is None:
            if port in self.ports:
                return
            if len(self.ports) < listed:
                self.ports.append(port)
                self.port_count += 1
                return
            port_map = self.port_map = bytearray(8192)
            for known in self.ports:
                port_map[known >> 3] |= 1 << (known & 7)
        bit = 1 << (port & 7)
        if not port_map[port >> 3] & bit:
            port_map[port >> 3] |= bit
            self.port_count += 1


# emit(key_values, rollup, period_start, period_end): key_values line up with the configured key fields.
RollupReporter = Callable[[tuple[Any, ...], Rollup, float, float], None]


class FlowAggregator:
    def __init__(self, settings: dict[str, Any], emit: RollupReporter) -> None:
        self.period: float = settings["period"]
        self.key_fields: list[str] = settings["key"]
        self.max_keys: int = settings["max_keys"]
        self.listed: int = settings["max_ports_listed"]
        self._emit = emit
        self._rollups: dict[tuple[Any, ...], Rollup] = {}
        self._taken: dict[int, tuple[int, int, int, int]] = {}  # id(flow) -> counts already rolled up
        self.next_tick: float | None = None
        self.events = 0
        self.dropped_flows = 0
        self.dropped_packets = 0

    @property
    def pending(self) -> bool:
        return bool(self._rollups)

    def start_clock(self, now: float) -> None:
        if self.next_tick is None or not self._rollups:
            self.next_tick = (now // self.period + 1) * self.period

    def key_of(self, flow: Flow) -> tuple[Any, ...]:
        src, dst, sport, dport = flow.endpoints()
        values = {"source.ip": src, "destination.ip": dst, "source.port": sport, "destination.port": dport,
                  "network.transport": flow.proto, "network.type": flow.ip_version, "flow.vlan": flow.vlans}
        return tuple(values[field] for field in self.key_fields)

    def take(self, flow: Flow, ended: bool) -> None:
        """Roll up what `flow` carried since it was last taken; an ended flow is forgotten after."""
        counts = (flow.packets0, flow.bytes0, flow.packets1, flow.bytes1)
        before = self._taken.pop(id(flow), None) if ended else self._taken.get(id(flow))
        if before is not None:
            delta = (counts[0] - before[0], counts[1] - before[1], counts[2] - before[2], counts[3] - before[3])
        else:
            delta = counts
        if not ended:
            self._taken[id(flow)] = counts
        if not (delta[0] or delta[2]):
            return
        key = self.key_of(flow)
        rollup = self._rollups.get(key)
        if rollup is None:
            if len(self._rollups) >= self.max_keys:
                self.dropped_flows += 1
                self.dropped_packets += delta[0] + delta[2]
                return
            rollup = self._rollups[key] = Rollup()
        rollup.flows += 1
        rollup.packets0 += delta[0]
        rollup.bytes0 += delta[1]
        rollup.packets1 += delta[2]
        rollup.bytes1 += delta[3]
        rollup.add_port(flow.endpoints()[2], self.listed)

    def tick(self, now: float, active: Iterable[Flow]) -> None:
        """The period ending at `now`: take every active flow, report every key, start afresh."""
        for flow in active:
            self.take(flow, False)
        start = (self.next_tick if self.next_tick is not None else now) - self.period
        for key, rollup in self._rollups.items():
            self.events += 1
            self._emit(key, rollup, start, now)
        self._rollups = {}
        self.next_tick = now + self.period

    def stats(self) -> dict[str, int]:
        return {"aggregate_events": self.events, "aggregate_keys": len(self._rollups),
                "aggregate_dropped_flows": self.dropped_flows, "aggregate_dropped_packets": self.dropped_packets}
