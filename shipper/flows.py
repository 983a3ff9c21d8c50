"""The bidirectional flow table, as Packetbeat's flows worker keeps it, on a clock the caller drives.

Flows live in subtables, one per (VLAN tags, IP protocol, ICMP echo identifier). Within a subtable the
key is raw address bytes: source address, destination address and, for port protocols, the two ports
in network order -- for IPv4 TCP and UDP exactly bytes 12..24 of the IP header, so the capture fast path
slices it straight from the frame. Each flow is stored under two keys, one per direction, both pointing
at the same `Flow`; a lookup finds the flow and the packet's direction at once.
The caller passes the clock: packet timestamps when reading a file (a replay is deterministic), the
wall clock when live. `advance(now)` runs expiry and periodic reports; `flush(now)` ends every flow.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Sequence
from typing import Any

from . import hotpath
from . import settings as s
from .community_id import community_id
from .decode.headers import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP
from .direction import is_client_side
from .flow_aggregate import AGGREGATE_SETTINGS, FlowAggregator, RollupReporter
from .settings import Setting, Spec
from .tcp_health import TcpHealth

__all__ = ["Flow", "FlowTable", "FLOW_SETTINGS", "FlowKey"]

FLOW_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, True, "report network flows"),
    "timeout": Setting(s.at_least(1.0, s.duration), 30.0, "a flow idle this long ends (final event)"),
    "period": Setting(s.period, 10.0, "report every active flow this often; -1 reports only when a flow ends"),
    "enable_delta_flow_reporting": Setting(s.boolean, False, "report counts since the last report, not totals"),
    "max_flows": Setting(s.at_least(1), 262144, "flows tracked at once; packets of flows over it are counted, not tracked"),
    "keep_null": Setting(s.boolean, False, "accepted for packetbeat.yml compatibility; has no effect"),
    "tags": Setting(s.string_list, [], "tags added to flow events"),
    "fields": s.any_mapping("custom fields added to flow events"),
    "fields_under_root": Setting(s.boolean, False, "put custom fields at the event root"),
    "index": Setting(s.string, None, "index (or format string) for flow events"),
    "tcp_health": Setting(s.boolean, True, "tcp.* on TCP flow events: Zeek's state and history, RTT, "
                          "retransmissions, reordering, gaps, zero windows"),
    "aggregate": AGGREGATE_SETTINGS,
    "filters": {
        "unspecified": Setting(s.boolean, False, "drop flows with port 0 or an unspecified address (0.0.0.0, ::); "
                               "counted in flows.filtered.unspecified"),
        "loopback": Setting(s.boolean, False, "drop flows with a loopback address (counted)"),
        "same_endpoints": Setting(s.boolean, False, "drop flows whose source address is their destination (counted)"),
        "no_payload": Setting(s.boolean, False, "drop reports of TCP flows that carried no payload yet (scans, bare "
                              "handshakes; needs tcp_health); counted once per flow"),
    },
}

TableId = tuple[tuple[int, ...], int, int]  # (vlans, IP protocol, -1: kept for the key's shape)
FlowKey = bytes  # src + dst [+ sport + dport], in the packet's own direction
_PORTS = struct.Struct("!HH")

_TCP_FIN_RST = 0x05
_TCP_SYN_ACK_MASK = 0x12
_TCP_SYN = 0x02
_PORT_PROTOCOLS = frozenset({6, 17, 132})
# Replies of ICMP's request/reply pairs: echo, timestamp, information, address mask; ICMPv6 echo.
_ICMP_REPLY_TYPES = {IPPROTO_ICMP: frozenset({0, 14, 16, 18}), IPPROTO_ICMPV6: frozenset({129})}


_b64 = base64.urlsafe_b64encode
_TIME = struct.Struct("<d")
_ID_PREFIX: dict[TableId, bytes] = {}  # bounded: past 4096 table ids the prefix is made each time
# The same IDs, computed in C (shipper/_flow_ids.pxi); None with the pure path.
_compiled_community: Any = getattr(hotpath.compiled, "community_id", None)
_compiled_flow_id: Any = getattr(hotpath.compiled, "flow_id", None)
_compiled_expired: Any = getattr(hotpath.compiled, "idle_flows", None)
_compiled_mark_ended: Any = getattr(hotpath.compiled, "mark_ended", None)


def id_prefix(table_id: TableId) -> bytes:
    """repr(table_id), encoded: how a flow id's material begins, made once per table id (4096 kept)."""
    prefix = _ID_PREFIX.get(table_id)
    if prefix is None:
        prefix = repr(table_id).encode()
        if len(_ID_PREFIX) < 4096:
            _ID_PREFIX[table_id] = prefix
    return prefix


def flow_id_material(prefix: bytes, table_id: TableId, key: Any, ts: Any) -> bytes:
    """What a flow id is the BLAKE2b of: the table id's repr (`prefix`), the key's bytes, then the start
    as a little-endian double; or, for a key not bytes or a start not a float, NUL and the repr of
    (table_id, key, ts). A repr is balanced in its parentheses and the time has 8 bytes, so neither form
    can be read two ways, nor mistaken for the other (a repr never begins with NUL)."""
    if type(key) is bytes and type(ts) is float:
        return prefix + key + _TIME.pack(ts)
    return b"\x00" + repr((table_id, key, ts)).encode()


# With the compiled hot path, Flow's fields are those of its base class: the numbers every packet updates
# are C numbers, and the fast path makes new flows without running __init__ (_hotpath._new_flow, which
# follows __init__ step for step: keep the two alike).
_FlowBase: type = hotpath.compiled.FlowCounters if hotpath.enabled and hotpath.compiled else object

FLOW_FIELDS = (  # every field of a Flow
    "table_id",
    "key",
    "reverse_key",
    "flow_id",
    "ip_version",
    "src_mac",
    "dst_mac",
    "icmp_type",
    "icmp_code",
    "start",
    "last",
    "packets0",
    "bytes0",
    "packets1",
    "bytes1",
    "closed",
    "ended",
    "event_cache",
    "event_json",
    "icmp_direction",
    "client_is_source",
    "filtered",
    "processes",
    "tcp",
    "_community_id",
    "_community_for",
)


class Flow(_FlowBase):  # type: ignore[misc, valid-type]
    """One bidirectional flow. Direction 0 is the side that sent the first packet (`source`)."""

    tcp: TcpHealth | None  # TCP health (packetshipper.flows.tcp_health): the engine keeps it

    __slots__ = tuple(name for name in FLOW_FIELDS if not hasattr(_FlowBase, name))

    def __init__(self, table_id: TableId, key: FlowKey, reverse_key: FlowKey, ip_version: int, ts: float,
                 src_mac: bytes | None, dst_mac: bytes | None, icmp_type: int, icmp_code: int) -> None:
        self.table_id = table_id
        self.key = key
        self.reverse_key = reverse_key
        self.ip_version = ip_version
        self.src_mac = src_mac
        self.dst_mac = dst_mac
        self.icmp_type = icmp_type
        self.icmp_code = icmp_code
        self.start = ts
        self.last = ts
        if _FlowBase is object:  # the compiled base's C fields start at zero, False and None
            self.packets0 = 0
            self.bytes0 = 0
            self.packets1 = 0
            self.bytes1 = 0
            self.closed = False  # FIN or RST seen: a later SYN starts a new flow
            self.ended = False  # its final report is made: the table no longer holds it
            self.tcp = None
        self.client_is_source = True  # whether the first sender opened the connection (see is_client_side)
        self.filtered = False  # a flow filter matched: its reports are dropped (counted)
        self.processes: Any = None  # (source's, destination's) local process, with packetshipper.procs
        self.event_cache: Any = None  # the flow module keeps the event parts that never change here
        self.event_json: Any = None  # and their JSON (the compiled flow_event_json)
        # BLAKE2b (15 bytes, URL-safe base64) of flow_id_material: unique to this flow, the same in every
        # report of it
        prefix = id_prefix(table_id)
        if _compiled_flow_id is not None and hotpath.enabled:
            self.flow_id = _compiled_flow_id(prefix, table_id, key, ts)
        else:
            import hashlib  # here: with the compiled path a run needs none of hashlib's OpenSSL start-up

            material = flow_id_material(prefix, table_id, key, ts)
            self.flow_id = _b64(hashlib.blake2b(material, digest_size=15).digest()).decode()
        self.icmp_direction = 0  # which side sent the latest ICMP packet
        self._community_for: tuple[int, int, int] | None = None
        self._community_id: str | None = None

    @property
    def community_id(self) -> str | None:
        """Community ID v1 of the flow. An ICMP flow's is that of its latest packet (type, code and the
        side that sent it), as Packetbeat's is."""
        which = (self.icmp_type, self.icmp_code, self.icmp_direction)
        if self._community_for != which:
            src, dst, sport, dport = self.endpoints()
            if self.icmp_type >= 0:
                if self.icmp_direction:
                    src, dst = dst, src
                sport, dport = self.icmp_type, max(self.icmp_code, 0)
            if _compiled_community is not None and hotpath.enabled:
                self._community_id = _compiled_community(self.proto, src, dst, sport, dport, community_id)
            else:
                self._community_id = community_id(self.proto, src, dst, sport, dport)
            self._community_for = which
        return self._community_id

    @property
    def proto(self) -> int:
        return self.table_id[1]

    @property
    def vlans(self) -> tuple[int, ...]:
        return self.table_id[0]

    def endpoints(self) -> tuple[bytes, bytes, int, int]:
        """(src, dst, sport, dport) of the side that sent the first packet; ports 0 if none."""
        key = self.key
        n = 4 if self.ip_version == 4 else 16
        if len(key) == 2 * n + 4:
            sport, dport = _PORTS.unpack_from(key, 2 * n)
            return key[:n], key[n : 2 * n], sport, dport
        return key[:n], key[n : 2 * n], 0, 0


# emit(flow, now, final, (packets0, bytes0, packets1, bytes1)): counts are totals, or deltas.
FlowReporter = Callable[[Flow, float, bool, tuple[int, int, int, int]], None]


class FlowTable:
    def __init__(self, settings: dict[str, Any], emit: FlowReporter,
                 ephemeral_ports: Sequence[int] = (32768, 60999), emit_rollup: RollupReporter | None = None,
                 on_new_flow: Callable[[Flow], None] | None = None) -> None:
        self.timeout: float = settings["timeout"]
        self.period: float = settings["period"]
        self.delta: bool = settings["enable_delta_flow_reporting"]
        self.max_flows: int = settings["max_flows"]
        self.ephemeral_ports = ephemeral_ports
        self._on_new_flow = on_new_flow
        self.tcp_health: bool = settings.get("tcp_health", True)
        filters = settings.get("filters") or {}
        self._filters = tuple(name for name in FLOW_FILTERS if filters.get(name))
        self._no_payload = bool(filters.get("no_payload"))
        self.filtered = dict.fromkeys(self._filters + (("no_payload",) if self._no_payload else ()), 0)
        self._emit = emit
        # report_many(flows, now, final): the reports of these flows' totals in one call, for a reporter
        # that makes them in bulk (the runner's flow documents). The table uses it where `_report` would
        # report each flow alike: no delta reporting, no filters.
        self.report_many: Callable[[list[Flow], float, bool], None] | None = None
        # key -> (flow, direction); the engine reads it directly on its fast path
        self.tables: dict[TableId, dict[FlowKey, tuple[Flow, int]]] = {}
        self._flows: dict[int, Flow] = {}
        self._reported: dict[int, tuple[int, int, int, int]] = {}
        # Packetbeat ticks at gcd(timeout, period) and aligns reports to whole periods.
        self.sweep_interval = max(1.0, min(self.timeout, self.period) if self.period > 0 else self.timeout)
        self.next_sweep: float | None = None
        self.next_report: float | None = None
        aggregate = settings.get("aggregate") or {}
        self.aggregator = FlowAggregator(aggregate, emit_rollup) \
            if aggregate.get("enabled") and emit_rollup is not None else None
        self.created = 0
        self.ended = 0
        self.refused = 0
        self.packets_untracked = 0
        self.reports = 0

    def __len__(self) -> int:
        return len(self._flows)

    @property
    def next_deadline(self) -> float:
        sweep = self.next_sweep if self.next_sweep is not None else float("inf")
        report = self.next_report if self.next_report is not None else float("inf")
        rollup = self.aggregator.next_tick if self.aggregator is not None and self.aggregator.next_tick else float("inf")
        return min(sweep, report, rollup)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "active": len(self._flows),
            "created": self.created,
            "ended": self.ended,
            "refused": self.refused,
            "packets_untracked": self.packets_untracked,
            "reports": self.reports,
        }
        if self.aggregator is not None:
            out.update(self.aggregator.stats())
        if self.filtered:
            out["filtered"] = dict(self.filtered)
        return out

    def _filter(self, flow: Flow) -> None:
        """Mark a new flow that a configured filter drops, counting it under the first that matches."""
        src, dst, sport, dport = flow.endpoints()
        for name in self._filters:
            if FLOW_FILTERS[name](flow, src, dst, sport, dport):
                flow.filtered = True
                self.filtered[name] += 1
                return

    def start_clock(self, now: float) -> None:
        self.next_sweep = now + self.sweep_interval
        if self.period > 0:
            self.next_report = (now // self.period + 1) * self.period
        if self.aggregator is not None:
            self.aggregator.start_clock(now)

    def table(self, table_id: TableId) -> dict[FlowKey, tuple[Flow, int]]:
        """The subtable for (vlans, proto, icmp id); the engine's fast path reads it directly."""
        table = self.tables.get(table_id)
        if table is None:
            table = self.tables[table_id] = {}
        return table

    def update(self, table_id: TableId, key: FlowKey, reverse_key: FlowKey, ip_version: int, ts: float,
               length: int, tcp_flags: int = 0, src_mac: bytes | None = None, dst_mac: bytes | None = None,
               icmp_type: int = -1, icmp_code: int = -1) -> Flow | None:
        """Account one packet of `length` bytes travelling in `key`'s direction."""
        table = self.table(table_id)
        entry = table.get(key)
        if entry is not None:
            flow, direction = entry
            if flow.closed and tcp_flags & _TCP_SYN_ACK_MASK == _TCP_SYN and table_id[1] == IPPROTO_TCP:
                self._end(flow, ts)  # a fresh SYN on a closed 5-tuple: a new connection
                entry = None
        if entry is None:
            if self.next_sweep is None:
                self.start_clock(ts)
            if len(self._flows) >= self.max_flows:
                self.refused += 1
                self.packets_untracked += 1
                return None
            flow = Flow(table_id, key, reverse_key, ip_version, ts, src_mac, dst_mac, icmp_type, icmp_code)
            if self._filters:
                self._filter(flow)
            if self._on_new_flow is not None:
                self._on_new_flow(flow)
            if table_id[1] in _PORT_PROTOCOLS:
                sport, dport = _PORTS.unpack_from(key, len(key) - 4) \
                    if len(key) == (12 if ip_version == 4 else 36) else (0, 0)  # as endpoints() gives
                flow.client_is_source = is_client_side(tcp_flags & _TCP_SYN_ACK_MASK == _TCP_SYN,
                                                       tcp_flags & _TCP_SYN_ACK_MASK == _TCP_SYN_ACK_MASK,
                                                       sport, dport, self.ephemeral_ports)
            self._flows[id(flow)] = flow
            table[reverse_key] = (flow, 1)
            table[key] = (flow, 0)  # after the reverse: a flow to itself counts as one direction
            self.created += 1
            direction = 0
        if icmp_type >= 0:
            flow.icmp_type, flow.icmp_code = icmp_type, icmp_code
            if key == reverse_key:  # a host pinging itself: requests count to the source, replies back
                direction = 1 if icmp_type in _ICMP_REPLY_TYPES.get(table_id[1], ()) else 0
            flow.icmp_direction = direction
        if direction == 0:
            flow.packets0 += 1
            flow.bytes0 += length
        else:
            flow.packets1 += 1
            flow.bytes1 += length
        flow.last = ts
        if tcp_flags & _TCP_FIN_RST:
            flow.closed = True
        return flow

    def advance(self, now: float) -> None:
        """Run every expiry sweep and periodic report scheduled up to `now`, each at its own tick time.

        On a file the clock jumps with the packets; ticks still happen at their scheduled instants, so
        a flow ends at the first sweep after its timeout, not when the next packet happens to arrive.
        """
        if self.next_sweep is None:
            return
        inf = float("inf")
        aggregator = self.aggregator
        while True:
            report_due = self.next_report if self.next_report is not None else inf
            rollup_due = aggregator.next_tick if aggregator is not None and aggregator.next_tick else inf
            due = min(self.next_sweep, report_due, rollup_due)
            if due > now:
                return
            self._expire(due)
            if due == report_due:
                self._report_all(due)
                self.next_report = report_due + self.period
            if aggregator is not None and due == rollup_due:
                aggregator.tick(due, (f for f in self._flows.values() if not f.filtered and not self._payloadless(f)))
            if self.next_sweep <= due:
                self.next_sweep = due + self.sweep_interval
            # Nothing left to tick for: resume with the next packet (a rollup still due is reported first).
            if not self._flows and not (aggregator is not None and aggregator.pending):
                self.start_clock(now)
                return

    def flush(self, now: float) -> None:
        """End every flow (end of file, shutdown): each gets a final event, and the period's rollups."""
        self._end_all(list(self._flows.values()), now)
        if self.aggregator is not None and self.aggregator.pending:
            self.aggregator.tick(now, ())

    def _expire(self, now: float) -> None:
        timeout = self.timeout
        if _compiled_expired is not None and hotpath.enabled:
            self._end_all(_compiled_expired(self._flows, now, timeout), now)
            return
        self._end_all([flow for flow in self._flows.values() if now - flow.last > timeout], now)

    def _bulk_reporter(self) -> Callable[[list[Flow], float, bool], None] | None:
        """report_many where it may stand in for `_report` on each flow (no delta reporting, no filters)."""
        return None if self.delta or self._filters or self._no_payload else self.report_many

    def _report_all(self, now: float) -> None:
        report_many = self._bulk_reporter()
        if report_many is not None:
            flows = list(self._flows.values())
            self.reports += len(flows)
            report_many(flows, now, False)
            return
        for flow in self._flows.values():
            self._report(flow, now, False)

    def _end_all(self, flows: list[Flow], now: float) -> None:
        """`_end` each of `flows`, in order; their final reports in one call where report_many may."""
        report_many = self._bulk_reporter()
        if report_many is None or self.aggregator is not None:
            for flow in flows:
                self._end(flow, now)
            return
        if not flows:
            return
        self.reports += len(flows)
        report_many(flows, now, True)
        if len(flows) == len(self._flows):  # all of them (flush): the dicts are emptied whole
            self._flows.clear()
            for table in self.tables.values():
                table.clear()
            if _compiled_mark_ended is not None and hotpath.enabled:
                _compiled_mark_ended(flows)
            else:
                mark_ended(flows)
            self.ended += len(flows)
            return
        for flow in flows:
            self._forget(flow)

    def _end(self, flow: Flow, now: float) -> None:
        self._report(flow, now, True)
        if self.aggregator is not None and not flow.filtered and not self._payloadless(flow):
            self.aggregator.take(flow, True)
        self._forget(flow)

    def _forget(self, flow: Flow) -> None:
        """The flow has made its final report: the table no longer holds it."""
        del self._flows[id(flow)]
        flow.ended = True
        flow.event_cache = flow.event_json = None  # never reported again (the lookup cache may hold it a while)
        if self.delta:
            self._reported.pop(id(flow), None)
        table = self.tables[flow.table_id]
        for key in (flow.key, flow.reverse_key):
            entry = table.get(key)
            if entry is not None and entry[0] is flow:
                del table[key]
        self.ended += 1

    def _payloadless(self, flow: Flow) -> bool:
        """With filters.no_payload: a TCP flow neither side of which has sent payload so far."""
        tcp = flow.tcp
        return self._no_payload and tcp is not None and not tcp.carried_payload()

    def _report(self, flow: Flow, now: float, final: bool) -> None:
        if flow.filtered:
            return
        if self._no_payload and self._payloadless(flow):
            if final:
                self.filtered["no_payload"] += 1
            return
        counts = (flow.packets0, flow.bytes0, flow.packets1, flow.bytes1)
        if self.delta:
            before = self._reported.get(id(flow), (0, 0, 0, 0))
            self._reported[id(flow)] = counts
            counts = (counts[0] - before[0], counts[1] - before[1], counts[2] - before[2], counts[3] - before[3])
        self.reports += 1
        self._emit(flow, now, final, counts)


def mark_ended(flows: list[Flow]) -> None:
    """Each of `flows` made its final report: never reported again, its lookup-cache entries stale, its
    event parts let go (the compiled `mark_ended` is its twin)."""
    for flow in flows:
        flow.ended = True
        flow.event_cache = flow.event_json = None


def _unspecified(flow: Flow, src: bytes, dst: bytes, sport: int, dport: int) -> bool:
    ports = flow.proto in _PORT_PROTOCOLS and (sport == 0 or dport == 0)
    return ports or not any(src) or not any(dst)


def _loopback(flow: Flow, src: bytes, dst: bytes, sport: int, dport: int) -> bool:
    def is_loopback(address: bytes) -> bool:
        return address[0] == 127 if len(address) == 4 else address == _IPV6_LOOPBACK

    return is_loopback(src) or is_loopback(dst)


_IPV6_LOOPBACK = bytes(15) + b"\x01"

# packetshipper.flows.filters.<name>: whether a new flow is dropped (its reports never published).
FLOW_FILTERS: dict[str, Callable[[Flow, bytes, bytes, int, int], bool]] = {
    "unspecified": _unspecified,
    "loopback": _loopback,
    "same_endpoints": lambda flow, src, dst, sport, dport: src == dst,
}


def flow_keys(vlans: tuple[int, ...], proto: int, src: bytes, dst: bytes, sport: int, dport: int,
              icmp_type: int, icmp_id: int) -> tuple[TableId, FlowKey, FlowKey]:
    """The subtable and both directions' keys for a decoded packet.

    Port protocols key on addresses and ports; ICMP and every other protocol on the addresses alone, as
    Packetbeat's flow IDs do (all ICMP between two hosts is one flow, whatever its types and echo
    identifiers).
    """
    if proto in _PORT_PROTOCOLS:
        return (vlans, proto, -1), src + dst + _PORTS.pack(sport, dport), dst + src + _PORTS.pack(dport, sport)
    return (vlans, proto, -1), src + dst, dst + src
