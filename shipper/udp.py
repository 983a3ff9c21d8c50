"""Datagram flows (UDP, and ICMP by address pair): a bounded table, one module session per flow.

Each datagram goes whole to the module's `parse_datagram`. The client of a flow is the side the module
says sends requests (by port), else the sender of the first datagram.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .debuglog import debug_log, endpoints
from .decode.packet import Packet
from .protocol import Connection, Direction
from .tcp import OPPOSITE, connection_key

if TYPE_CHECKING:
    from .detect import Chunk, Detector, ProbeSession
    from .dispatch import ModuleRunner, Session

__all__ = ["DatagramTable", "Flow"]

# A heap entry comes up this much before its deadline: the exact test (`now - last_seen > idle_timeout`)
# decides, so float rounding of `last_seen + idle_timeout` can never make an idle flow wait a pass.
_SLACK = 1e-3

ConnectionFactory = Callable[[Packet, bool, str], Connection]
RunnerLookup = Callable[[int, int], "ModuleRunner | None"]


class Flow:
    __slots__ = ("conn_id", "keys", "runner", "session", "last_seen", "ask")

    def __init__(self, conn_id: int, keys: tuple[Any, Any], runner: ModuleRunner, session: Session,
                 ts: float) -> None:
        self.conn_id = conn_id
        self.keys = keys
        self.runner = runner
        self.session = session
        self.last_seen = ts
        # True: the runner's `direction_of` is asked at every datagram. False: the table entry's direction
        # is the answer (ICMP; a module with ProtocolModule's port rule, see `_asks`).
        self.ask = False


class DatagramTable:
    """Flows of one transport: `udp` keys on addresses and ports (`connection_key`), `icmp` on the
    addresses only (source then destination, as they sit in the IP header)."""

    def __init__(self, transport: str, settings: dict[str, Any], runner_for: RunnerLookup,
                 make_connection: ConnectionFactory, ids: itertools.count[int]) -> None:
        self.transport = transport
        self.use_ports = transport == "udp"
        self.debug = debug_log(transport)  # `-d udp` / `-d icmp`: a line per flow opened, closed, over a limit
        self.noun = "flow" if self.use_ports else "address pair"
        self.max_flows: int = settings["max_flows"]
        self.idle_timeout: float = settings["idle_timeout"]
        self.runner_for = runner_for
        self.make_connection = make_connection
        self.ids = ids
        self.table: dict[bytes, tuple[Flow, Direction]] = {}
        self.flows: dict[int, Flow] = {}
        # The once-a-second pass visits only what may have work: flows whose idle deadline has come
        # (a heap of (last_seen + idle_timeout, conn_id), refreshed lazily when an entry comes up) and
        # flows whose session `expire` may act on (`runner.settled` says which do not).
        self._idle_due: list[tuple[float, int]] = []
        self._unsettled: dict[int, Flow] = {}
        self.opened = 0
        self.over_limit = 0
        self.expired = 0
        # Detection by content (the dispatcher sets it, UDP only): flows on ports no module claims are probed.
        self.detector: Detector | None = None

    def datagram(self, key: bytes, ts: float, sport: int, dport: int, payload: bytes) -> bool:
        """A datagram (or ICMP message) of a flow in the table (`key` as the table keys it, see the class):
        handle it and return True. False: the flow is unknown; the caller hands the whole packet to `handle`."""
        entry = self.table.get(key)
        if entry is None:
            return False
        self._deliver(entry, ts, sport, dport, payload)
        return True

    def handle(self, pkt: Packet) -> None:
        if self.use_ports:
            sport, dport = pkt.sport, pkt.dport
            key = connection_key(pkt.src, pkt.dst, sport, dport)
        else:
            sport = dport = 0
            key = pkt.src + pkt.dst
        entry = self.table.get(key)
        if entry is None:
            entry = self._open(pkt, sport, dport, key)
            if entry is None:
                return
        self._deliver(entry, pkt.ts, pkt.sport, pkt.dport, pkt.payload)

    def _deliver(self, entry: tuple[Flow, Direction], ts: float, sport: int, dport: int, payload: bytes) -> None:
        flow, direction = entry
        flow.last_seen = ts
        runner = flow.runner
        if flow.ask:
            said = runner.direction_of(flow.session, sport, dport)
            if said is not None:
                direction = said
        runner.datagram(flow.session, payload, ts, direction)
        if not runner.settled(flow.session):
            self._unsettled[flow.conn_id] = flow

    def _open(self, pkt: Packet, sport: int, dport: int, fwd: bytes) -> tuple[Flow, Direction] | None:
        """A flow for `pkt`, whose table key is `fwd`; None when it is not tracked."""
        runner = self.runner_for(pkt.sport, pkt.dport)
        probing = False
        rev = connection_key(pkt.dst, pkt.src, dport, sport) if self.use_ports else pkt.dst + pkt.src
        if runner is None:
            detector = self.detector
            if detector is None or not detector.admit(fwd, rev):
                return None
            runner = cast("ModuleRunner", detector.runner(self.transport))  # stands in for a module's runner
            probing = True
        if len(self.flows) >= self.max_flows:
            self.over_limit += 1
            if self.debug.enabled and self.debug.admit():
                self.debug.write("%s not tracked: max_flows (%d) reached", self._packet_endpoints(pkt), self.max_flows)
            return None
        # The side talking to the module's port is the client; else the first sender.
        client_is_src = not (self.use_ports and pkt.sport in runner.ports and pkt.dport not in runner.ports)
        connection = self.make_connection(pkt, client_is_src, self.transport)
        session = runner.open(connection)
        flow = Flow(connection.connection_id, (fwd, rev), runner, session, pkt.ts)
        src_dir = Direction.REQUEST if client_is_src else Direction.RESPONSE
        self.table[fwd] = (flow, src_dir)
        self.table[rev] = (flow, OPPOSITE[src_dir])
        flow.ask = self._asks(runner)
        self.flows[flow.conn_id] = flow
        heapq.heappush(self._idle_due, (pkt.ts + self.idle_timeout, flow.conn_id))
        self.opened += 1
        if probing:
            probe: ProbeSession = session  # type: ignore[assignment]
            probe.claim = functools.partial(self._claimed, flow)
            probe.drop = functools.partial(self._unclaimed, flow)
        if self.debug.enabled and self.debug.admit():
            self.debug.write("%s #%d %s opened for %s", self.noun, flow.conn_id, endpoints(connection), runner.name)
        return flow, src_dir

    def _asks(self, runner: Any) -> bool:
        """Whether `runner.direction_of` must be asked at each datagram of its UDP flows.

        Not for a module with ProtocolModule's rule (`by_ports`): it answers a datagram to its port as a
        request, from its port as a response, else None, and `_open` chose the client by that same rule,
        so its answer is the entry's direction or None. A flow it claims after detection has neither port
        among its ports (else it would have been its flow from the start): None every time.
        """
        return self.use_ports and not getattr(runner, "by_ports", False)

    def _claimed(self, flow: Flow, runner: ModuleRunner, chunks: list[Chunk]) -> None:
        """A probe claimed the flow: its module takes over and gets the datagrams so far, in order."""
        session = runner.open(flow.session.connection)
        flow.runner = runner
        flow.session = session
        flow.ask = self._asks(runner)
        if self.debug.enabled and self.debug.admit():
            self.debug.write("%s #%d %s detected as %s", self.noun, flow.conn_id, endpoints(session.connection),
                             runner.name)
        for direction, data, ts in chunks:
            runner.datagram(session, data, ts, direction)
        if not runner.settled(session):
            self._unsettled[flow.conn_id] = flow

    def _unclaimed(self, flow: Flow) -> None:
        """No probe claimed it: forget the flow; its later datagrams are skipped by key."""
        if self.debug.enabled and self.debug.admit():
            self.debug.write("%s #%d %s: no module recognised it; not followed", self.noun, flow.conn_id,
                             endpoints(flow.session.connection))
        for key in flow.keys:
            self.table.pop(key, None)
        self.flows.pop(flow.conn_id, None)
        self._unsettled.pop(flow.conn_id, None)
        if self.detector is not None:
            self.detector.reject_keys(*flow.keys)

    def _close(self, flow: Flow, now: float, why: str) -> None:
        if self.debug.enabled and self.debug.admit():
            self.debug.write("%s #%d %s %s", self.noun, flow.conn_id, endpoints(flow.session.connection), why)
        flow.runner.close(flow.session, now)
        for key in flow.keys:
            self.table.pop(key, None)
        self.flows.pop(flow.conn_id, None)
        self._unsettled.pop(flow.conn_id, None)

    def tick(self, now: float) -> None:
        """Close the flows idle past `idle_timeout`, let the others' sessions expire what timed out: in
        the order the flows opened, as a pass over every flow would."""
        idle_timeout = self.idle_timeout
        idle = self._idle_flows(now)
        due = sorted(idle.keys() | self._unsettled.keys())
        for conn_id in due:
            flow = self.flows.get(conn_id)
            if flow is None:  # closed earlier in this pass
                continue
            if conn_id in idle:
                self.expired += 1
                self._close(flow, now, f"expired after {idle_timeout:g}s idle")
                continue
            runner = flow.runner
            runner.expire(flow.session, now)
            if runner.settled(flow.session):
                self._unsettled.pop(conn_id, None)

    def _idle_flows(self, now: float) -> dict[int, Flow]:
        """The flows with `now - last_seen > idle_timeout`, by conn_id."""
        heap, flows, idle_timeout = self._idle_due, self.flows, self.idle_timeout
        idle: dict[int, Flow] = {}
        later: list[tuple[float, int]] = []
        while heap and heap[0][0] <= now + _SLACK:
            _, conn_id = heapq.heappop(heap)
            flow = flows.get(conn_id)
            if flow is None:
                continue  # closed since: its entry goes
            if now - flow.last_seen > idle_timeout:
                idle[conn_id] = flow
            else:  # seen since the entry was made: it comes up again at its new deadline
                later.append((flow.last_seen + idle_timeout, conn_id))
        for entry in later:
            heapq.heappush(heap, entry)
        if len(heap) > 2 * len(flows) + 1024:  # entries of flows closed otherwise: rebuild
            self._idle_due = [(flow.last_seen + idle_timeout, conn_id) for conn_id, flow in flows.items()
                              if conn_id not in idle]
            heapq.heapify(self._idle_due)
        return idle

    def flush(self, now: float) -> None:
        """`_close` every flow, in the order they opened; the tables are emptied once, at the end (every
        key belongs to a flow in `flows`)."""
        debug = self.debug
        for flow in list(self.flows.values()):
            if debug.enabled and debug.admit():
                debug.write("%s #%d %s flushed at the end of capture", self.noun, flow.conn_id,
                            endpoints(flow.session.connection))
            flow.runner.close(flow.session, now)
        self.table.clear()
        self.flows.clear()
        self._unsettled.clear()

    def _packet_endpoints(self, pkt: Packet) -> str:
        family = socket.AF_INET if pkt.ip_version == 4 else socket.AF_INET6
        src, dst = socket.inet_ntop(family, pkt.src), socket.inet_ntop(family, pkt.dst)
        if not self.use_ports:
            return f"{self.transport} {src} -> {dst}"
        return f"{self.transport} {src}:{pkt.sport} -> {dst}:{pkt.dport}"

    def stats(self) -> dict[str, int]:
        return {
            "flows": len(self.flows),
            "flows_total": self.opened,
            "flows_over_limit": self.over_limit,
            "flows_expired": self.expired,
        }
