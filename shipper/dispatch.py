"""Routes decoded packets to protocol modules and turns their transactions into events.

`Dispatcher` owns the TCP table, the UDP and ICMP flow tables and one `ModuleRunner` per enabled
module. A runner is the only code that calls into a module: it keeps the module's per-connection
state (`Session`), catches what the module raises, counts it, and publishes finished transactions.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any

from . import debuglog, hotpath
from . import settings as _s
from .community_id import community_id
from .decode.packet import Packet
from .detect import DETECT_SETTINGS, Detector
from .event import OMIT, Envelope, deep_merge, iso_timestamp, transaction_event
from .protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    Endpoint,
    ModuleStats,
    ProtocolError,
    ProtocolModule,
    Status,
    StreamParser,
    Transaction,
)
from .settings import Setting, Spec
from .tcp import TcpTable
from .tcp_stream import Item, StreamEvent
from .udp import DatagramTable

__all__ = ["DISPATCH_SETTINGS", "Dispatcher", "ModuleRunner", "Session", "mac_text"]

log = logging.getLogger(__name__)

_compiled_community: Callable[..., str] | None = getattr(hotpath.compiled, "community_id", None)
_compiled_connection: Callable[..., Connection | None] | None = getattr(hotpath.compiled, "connection_of", None)
_UNMATCHED = frozenset((UNMATCHED_REQUEST, UNMATCHED_RESPONSE))
_compiled_event: Callable[..., dict[str, Any]] | None = getattr(hotpath.compiled, "transaction_event", None)

_size = _s.at_least(0, _s.size)
_count = _s.at_least(1)

DISPATCH_SETTINGS: Spec = {
    "tcp": {
        "max_connections": Setting(_count, 65536, "connections tracked at once; new ones over this are "
                                   "not tracked (counted in tcp.connections_over_limit)"),
        "max_out_of_order_bytes_per_connection": Setting(
            _size, 1 << 20, "bytes held per direction waiting for a hole to fill; over this the hole "
            "is reported as a gap (tcp.gaps_over_limit)"),
        "max_out_of_order_bytes": Setting(
            _size, 64 << 20, "out-of-order bytes held over all connections; over this holes are given "
            "up (tcp.gaps_over_limit)"),
        "gap_timeout": Setting(_s.duration, 2.0, "how long a hole may wait for retransmission before "
                               "it is reported as a gap (tcp.gaps_timeout)"),
        "idle_timeout": Setting(_s.duration, 120.0, "a connection without packets for this long is "
                                "ended (tcp.connections_expired)"),
        "max_message_size": Setting(_size, 10 << 20, "for modules without their own max_message_size: "
                                    "bytes a parser may take without producing a message before its "
                                    "state is dropped (<module>.over_max_message_size)"),
        "max_stream_events": Setting(_count, 128, "gap/out-of-order/overlap events remembered per "
                                     "connection to mark the transactions they affect "
                                     "(<module>.stream_events_dropped)"),
        "max_closed_remembered": Setting(_s.at_least(0), 4096, "directions of closed connections remembered, so "
                                         "that their segments sent again are dropped (tcp.stale_segments), not "
                                         "taken for new connections; the oldest is forgotten first (0: none)"),
    },
    "udp": {
        "max_flows": Setting(_count, 65536, "UDP flows tracked at once (udp.flows_over_limit)"),
        "idle_timeout": Setting(_s.duration, 60.0, "a UDP flow without datagrams for this long is "
                                "closed and its pending transactions reported (udp.flows_expired)"),
    },
    "icmp": {
        "max_flows": Setting(_count, 16384, "ICMP address pairs tracked at once (icmp.flows_over_limit)"),
        "idle_timeout": Setting(_s.duration, 60.0, "an ICMP address pair without messages for this "
                                "long is closed (icmp.flows_expired)"),
    },
    **DETECT_SETTINGS,
}


def mac_text(mac: bytes | None) -> str | None:
    """`0A-00-27-00-00-00`, as Packetbeat prints MAC addresses."""
    if not mac:
        return None
    return mac.hex("-").upper()


class Session:
    """A module's state for one connection or flow. `dead` after a module bug: ignored from then on."""

    __slots__ = ("connection", "parsers", "correlator", "unparsed", "events", "dead")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.parsers: list[StreamParser | None] = [None, None]
        self.correlator: Correlator | None = None
        self.unparsed = [0, 0]  # bytes given to each parser since it last produced a message
        self.events: list[tuple[float, StreamEvent]] = []
        self.dead = False


class ModuleRunner:
    """Drives one module safely and publishes its transactions."""

    def __init__(self, module: ProtocolModule, emit: Callable[[dict[str, Any]], None], envelope: Envelope,
                 max_message_size: int, max_stream_events: int) -> None:
        self.module = module
        self.name = module.name
        self.debug = debuglog.debug_log(module.name)  # `-d http` selects it
        self.ports = frozenset(module.ports)
        # ProtocolModule's own direction_of, the port rule the UDP table opens flows by: it need not be asked.
        self.by_ports: bool = type(module).direction_of is ProtocolModule.direction_of
        self.emit = emit
        self.envelope = envelope
        cfg = module.config
        self.tags: list[str] = list(cfg.get("tags") or [])
        self.fields: dict[str, Any] = dict(cfg.get("fields") or {})
        self.fields_under_root: bool = bool(cfg.get("fields_under_root", False))
        # A module with its own `max_message_size` bounds its buffers itself (and may stream bodies
        # larger than that); for the others the core drops a parser that swallows too much.
        self.max_message_size: int | None = None if "max_message_size" in cfg else max_message_size
        self.max_stream_events = max_stream_events
        self.stats = ModuleStats()
        self._logged_bug = False
        # Set by the runner where nothing reads or changes the event between here and the queue: queues
        # a transaction's event as the JSON document written from it (`transaction_document`), False
        # for one that must be built as a dict.
        self.document: Callable[[Transaction[Any, Any], Any], bool] | None = None

    # --- sessions ----------------------------------------------------------------------------------
    def open(self, connection: Connection) -> Session:
        session = Session(connection)
        try:
            session.correlator = self.module.correlator(connection)
        except Exception as exc:
            self._bug(session, exc)
        return session

    def direction_of(self, session: Session, sport: int, dport: int) -> Direction | None:
        try:
            return self.module.direction_of(session.connection, sport, dport)
        except Exception as exc:
            self._bug(session, exc)
            return None

    # --- TCP -----------------------------------------------------------------------------------------
    def stream(self, session: Session, direction: Direction, items: list[Item], ts: float) -> None:
        if session.dead:
            return
        correlator = session.correlator
        assert correlator is not None
        try:
            for item in items:
                parser = session.parsers[direction]
                if parser is None:
                    parser = session.parsers[direction] = self.module.stream_parser(direction, session.connection)
                try:
                    if isinstance(item, int):
                        correlator.note_gap(direction, item, ts)
                        messages = parser.receive_gap(item, ts)
                    else:
                        messages = parser.receive_data(item, ts)
                except ProtocolError as exc:
                    self._protocol_error(session, direction, exc)
                    session.parsers[direction] = None  # resync with a fresh parser
                    session.unparsed[direction] = 0
                    continue
                if messages:
                    session.unparsed[direction] = 0
                    self._correlate(session, correlator, direction, messages, ts)
                elif self.max_message_size is not None and not isinstance(item, int):
                    session.unparsed[direction] += len(item)
                    if session.unparsed[direction] > self.max_message_size:
                        self._count("over_max_message_size")
                        if self.debug.enabled:
                            self._debug_drop(session, direction, f"{session.unparsed[direction]} bytes without a "
                                             f"message (over max_message_size {self.max_message_size}): parser "
                                             "state dropped")
                        session.parsers[direction] = None
                        session.unparsed[direction] = 0
        except Exception as exc:
            self._bug(session, exc)

    def stream_eof(self, session: Session, direction: Direction, ts: float) -> None:
        parser = session.parsers[direction]
        if session.dead or parser is None:
            return
        correlator = session.correlator
        assert correlator is not None
        try:
            try:
                messages = parser.receive_eof(ts)
            except ProtocolError as exc:
                self._protocol_error(session, direction, exc)
                messages = []
            self._correlate(session, correlator, direction, messages, ts)
        except Exception as exc:
            self._bug(session, exc)

    def note(self, session: Session, ts: float, kind: StreamEvent) -> None:
        if len(session.events) >= self.max_stream_events:
            self._count("stream_events_dropped")
            if self.debug.enabled:
                self.debug("%s: stream event %s not kept (max_stream_events %d)", debuglog.endpoints(
                    session.connection), kind.name.lower(), self.max_stream_events)
            return
        session.events.append((ts, kind))

    # --- UDP and ICMP --------------------------------------------------------------------------------
    def datagram(self, session: Session, data: bytes, ts: float, direction: Direction) -> None:
        if session.dead:
            return
        correlator = session.correlator
        assert correlator is not None
        try:
            try:
                messages = self.module.parse_datagram(data, ts, direction, session.connection)
            except ProtocolError as exc:
                self._protocol_error(session, direction, exc)
                return
            self._correlate(session, correlator, direction, messages, ts)
        except Exception as exc:
            self._bug(session, exc)

    # --- time ------------------------------------------------------------------------------------------
    def expire(self, session: Session, now: float) -> None:
        correlator = session.correlator
        if session.dead or correlator is None:
            return
        try:
            expired = correlator.expire(now)
            if expired.__class__ is not list or expired:  # runs per connection per tick: skip the empty list
                self._publish(session, expired)
        except Exception as exc:
            self._bug(session, exc)
        if session.events:
            horizon = now - self.module.transaction_timeout
            session.events = [e for e in session.events if e[0] >= horizon]

    def settled(self, session: Session) -> bool:
        """True when `expire` has nothing to do for `session` until its next message (see
        `Correlator.has_pending`)."""
        correlator = session.correlator
        if session.dead or correlator is None:
            return True
        if session.events:
            return False
        try:
            return not correlator.has_pending()
        except Exception as exc:
            self._bug(session, exc)
            return True

    def close(self, session: Session, now: float) -> None:
        if session.dead or session.correlator is None:
            return
        try:
            self._publish(session, session.correlator.close(now))
        except Exception as exc:
            self._bug(session, exc)
        session.dead = True

    def _protocol_error(self, session: Session, direction: Direction, exc: ProtocolError) -> None:
        """Bad peer input: counted, and shown with `-d <module>` (debug logging of that selector)."""
        self.stats.protocol_errors += 1
        if self.debug.enabled:
            arrow = "->" if direction == Direction.REQUEST else "<-"
            self.debug("protocol error %s: %s; that direction resyncs at its next segment",
                       debuglog.endpoints(session.connection, arrow=arrow), exc)

    def _debug_drop(self, session: Session, direction: Direction, what: str) -> None:
        arrow = "->" if direction == Direction.REQUEST else "<-"
        self.debug("%s: %s", debuglog.endpoints(session.connection, arrow=arrow), what)

    def _debug_transaction(self, txn: Transaction[Any, Any]) -> None:
        """`tcp 10.0.0.1:51000 -> 10.0.0.2:80: GET /x -> 200 OK; OK, 120/312 bytes, 1.2 ms`."""
        debug = self.debug
        if not debug.admit():
            return
        try:
            what = self.module.describe(txn) or "transaction"
        except Exception as exc:  # a debug line must not change what is captured: say so, go on
            what = f"(describe failed: {type(exc).__name__}: {exc})"
        status = str(txn.status) if txn.error is None else f"{txn.status} ({txn.error})"
        debug.write("%s: %s; %s, %d/%d bytes, %.1f ms", debuglog.endpoints(txn.connection), what, status,
                    txn.request_bytes, txn.response_bytes, (txn.end - txn.start) * 1000.0)

    # --- output ----------------------------------------------------------------------------------------
    def _correlate(self, session: Session, correlator: Correlator, direction: Direction,
                   messages: list[Any], ts: float) -> None:
        for message in messages:
            try:
                transactions = correlator.on_message(direction, message, ts)
            except ProtocolError as exc:
                self._protocol_error(session, direction, exc)
                continue
            if transactions:
                self._publish(session, transactions)

    def _publish(self, session: Session, transactions: list[Transaction[Any, Any]]) -> None:
        stats = self.stats
        for txn in transactions:
            if session.events:
                txn = self._with_stream_health(session, txn)
            stats.transactions += 1
            if self.debug.enabled:
                self._debug_transaction(txn)
            if txn.status is not Status.OK:
                stats.errors += 1
            error = txn.error
            if error is not None and error in _UNMATCHED:
                stats.unmatched += 1
            try:
                fields = self.module.event_fields(txn)
                if self.document is not None and self.document(txn, fields):
                    continue
                if _compiled_event is not None and hotpath.enabled:  # the same event, built in C
                    event = _compiled_event(self.name, txn, fields, Status.OK, OMIT, Mapping, deep_merge,
                                            iso_timestamp)
                else:
                    event = transaction_event(self.name, txn, fields)
            except Exception as exc:
                self._bug(session, exc)
                continue
            self.emit(self.envelope.wrap(event, tags=self.tags, fields=self.fields,
                                         fields_under_root=self.fields_under_root))

    @staticmethod
    def _with_stream_health(session: Session, txn: Transaction[Any, Any]) -> Transaction[Any, Any]:
        counts = [0, 0, 0]
        for ts, kind in session.events:
            if txn.start <= ts <= txn.end:
                counts[kind] += 1
        gaps = max(txn.gaps, counts[StreamEvent.GAP])
        out_of_order = max(txn.out_of_order, counts[StreamEvent.OUT_OF_ORDER])
        overlaps = max(txn.overlaps, counts[StreamEvent.OVERLAP])
        if (gaps, out_of_order, overlaps) == (txn.gaps, txn.out_of_order, txn.overlaps):
            return txn
        return dataclasses.replace(txn, gaps=gaps, out_of_order=out_of_order, overlaps=overlaps)

    def _count(self, name: str) -> None:
        extra = self.stats.extra
        extra[name] = extra.get(name, 0) + 1

    def _bug(self, session: Session, exc: Exception) -> None:
        self.stats.bugs += 1
        session.dead = True
        session.parsers = [None, None]
        session.correlator = None
        session.events = []
        if not self._logged_bug:
            self._logged_bug = True
            log.error("module %s failed; its state for this connection was dropped (logged once)",
                      self.name, exc_info=exc)
        elif self.debug.enabled:
            self.debug("%s: module bug %s: %s; its state for this connection was dropped",
                       debuglog.endpoints(session.connection), type(exc).__name__, exc)

    def snapshot(self) -> dict[str, int]:
        s = self.stats
        out = {"transactions": s.transactions, "errors": s.errors, "unmatched": s.unmatched,
               "protocol_errors": s.protocol_errors, "bugs": s.bugs}
        out.update(s.extra)
        out.update(self.module.stats)
        out.update(self.module.gauges())
        return out


class Dispatcher:
    """Hands each packet to the TCP, UDP or ICMP side and keeps their tables in time."""

    def __init__(self, modules: list[ProtocolModule], emit: Callable[[dict[str, Any]], None],
                 envelope: Envelope, settings: dict[str, Any]) -> None:
        cfg = _s.validate(DISPATCH_SETTINGS, settings or {})
        tcp_cfg = cfg["tcp"]
        self.runners = [
            ModuleRunner(m, emit, envelope, tcp_cfg["max_message_size"], tcp_cfg["max_stream_events"])
            for m in modules
        ]
        self._tcp_map = self._port_map("tcp")
        self._udp_map = self._port_map("udp")
        icmp = [r for r in self.runners if "icmp" in r.module.transports]
        self._icmp_runner = icmp[0] if icmp else None
        self.tcp_ports: frozenset[int] = frozenset(self._tcp_map)
        self.udp_ports: frozenset[int] = frozenset(self._udp_map)
        self.wants_icmp: bool = self._icmp_runner is not None
        ids = itertools.count(1)
        self._ids = ids
        self.tcp = TcpTable(tcp_cfg, self._tcp_runner, self._connection, ids)
        self.udp = DatagramTable("udp", cfg["udp"], self._udp_runner, self._connection, ids)
        self.icmp = DatagramTable("icmp", cfg["icmp"], self._icmp_lookup, self._connection, ids)
        self.ignored = 0
        # Detection by content: the engine hands it packets on ports no module claims (see shipper/detect.py).
        self.detector: Detector | None = None
        if cfg["detect_protocols"]:
            self.detector = Detector(self.runners, cfg["detect"])
            self.tcp.detector = self.udp.detector = self.detector
        # For the engine's fast path: segments and datagrams of known connections, without a Packet.
        self.tcp_segment = self.tcp.segment
        self.udp_datagram = self.udp.datagram
        self.icmp_message = self.icmp.datagram

    def _port_map(self, transport: str) -> dict[int, ModuleRunner]:
        ports: dict[int, ModuleRunner] = {}
        for runner in self.runners:
            if transport in runner.module.transports:
                for port in runner.module.ports:
                    ports.setdefault(port, runner)
        return ports

    def _tcp_runner(self, sport: int, dport: int) -> ModuleRunner | None:
        return self._tcp_map.get(dport) or self._tcp_map.get(sport)

    def _udp_runner(self, sport: int, dport: int) -> ModuleRunner | None:
        return self._udp_map.get(dport) or self._udp_map.get(sport)

    def _icmp_lookup(self, sport: int, dport: int) -> ModuleRunner | None:
        return self._icmp_runner

    def _connection(self, pkt: Packet, client_is_src: bool, transport: str) -> Connection:
        if _compiled_connection is not None and hotpath.enabled:  # the same Connection, made in C
            made = _compiled_connection(pkt, client_is_src, transport, Endpoint, Connection, community_id, self._ids)
            if made is not None:
                return made
        family = socket.AF_INET if pkt.ip_version == 4 else socket.AF_INET6
        src = Endpoint(socket.inet_ntop(family, pkt.src), pkt.sport, mac_text(pkt.src_mac))
        dst = Endpoint(socket.inet_ntop(family, pkt.dst), pkt.dport, mac_text(pkt.dst_mac))
        client, server = (src, dst) if client_is_src else (dst, src)
        cid = None
        if transport != "icmp":
            try:
                if _compiled_community is not None and hotpath.enabled:  # the same string, computed in C
                    cid = _compiled_community(pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport, community_id)
                else:
                    cid = community_id(pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport)
            except Exception:  # a broken helper must not stop capture; the event just lacks it
                cid = None
        return Connection(transport, pkt.ip_version, client, server, tuple(pkt.vlans), cid, next(self._ids))

    # --- the capture loop's calls ------------------------------------------------------------------------
    def handle(self, pkt: Packet) -> None:
        proto = pkt.proto
        if proto == 6:
            self.tcp.handle(pkt)
        elif proto == 17:
            self.udp.handle(pkt)
        elif (proto == 1 or proto == 58) and self._icmp_runner is not None:
            self.icmp.handle(pkt)
        else:
            self.ignored += 1

    def tick(self, now: float) -> None:
        self.tcp.tick(now)
        self.udp.tick(now)
        self.icmp.tick(now)
        debuglog.flush_due()

    def flush(self, now: float) -> None:
        self.tcp.flush(now)
        self.udp.flush(now)
        self.icmp.flush(now)
        debuglog.flush_all()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tcp": self.tcp.stats(), "udp": self.udp.stats(), "icmp": self.icmp.stats()}
        out["dispatch"] = {"ignored_packets": self.ignored}
        if self.detector is not None:
            out["detect"] = self.detector.stats()
        out["modules"] = {runner.name: runner.snapshot() for runner in self.runners}
        return out
