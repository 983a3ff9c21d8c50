"""The TCP layer: a bounded table of connections, each with two reassembled streams.

It decides who is client and server (the SYN, else the module's port, else the first packet), feeds
in-order bytes and gaps to the module through its runner, ends a direction on FIN or RST, and expires
idle connections. It never looks inside the payload.
"""

from __future__ import annotations

import functools
import itertools
import socket
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .debuglog import debug_log, endpoints
from .decode.packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Packet
from .protocol import Connection, Direction
from .tcp_stream import ByteBudget, Item, Reassembler, StreamEvent, TcpCounters, seq_diff

if TYPE_CHECKING:
    from .detect import Chunk, Detector, ProbeSession
    from .dispatch import ModuleRunner, Session

__all__ = ["TcpTable", "TcpConnection", "connection_key"]

REQUEST, RESPONSE = Direction.REQUEST, Direction.RESPONSE
OPPOSITE = (RESPONSE, REQUEST)  # by direction: `Direction.other` without building an enum member per call
ConnectionFactory = Callable[[Packet, bool, str], Connection]
RunnerLookup = Callable[[int, int], "ModuleRunner | None"]
_PORTS = struct.Struct("!HH")
_SYN_FIN_RST = TCP_SYN | TCP_FIN | TCP_RST
DEBUG = debug_log("tcp")  # `-d tcp`: a line per connection opened, closed, over a limit, per gap


def connection_key(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    """The table key of one direction: the addresses and ports as they sit in the IP and TCP headers."""
    return src + dst + _PORTS.pack(sport, dport)


class TcpConnection:
    """TCP state of one connection plus the module session riding on it."""

    __slots__ = ("conn_id", "keys", "streams", "ended", "last_seen", "runner", "session", "counts", "isn")

    def __init__(self, conn_id: int, keys: tuple[Any, Any], runner: ModuleRunner, session: Session,
                 streams: tuple[Reassembler, Reassembler], ts: float) -> None:
        self.conn_id = conn_id
        self.keys = keys
        self.streams = streams
        self.ended = [False, False]
        self.last_seen = ts
        self.runner = runner
        self.session = session
        self.counts = [0, 0, 0]  # per StreamEvent: gaps, out_of_order, overlaps
        self.isn: list[int | None] = [None, None]

    def on_event(self, ts: float, kind: StreamEvent, n: int) -> None:
        self.counts[kind] += 1
        self.runner.note(self.session, ts, kind)

    def on_event_logged(self, direction: Direction, ts: float, kind: StreamEvent, n: int) -> None:
        """`on_event`, and a `-d tcp` line for a gap (bound per stream when the selector is on)."""
        self.on_event(ts, kind, n)
        if kind is StreamEvent.GAP and DEBUG.admit():
            side = "request" if direction == REQUEST else "response"
            DEBUG.write("connection #%d %s: gap of %d bytes in the %s stream given up on (lost)", self.conn_id,
                        endpoints(self.session.connection), n, side)

    def describe_end(self, why: str) -> str:
        """`... closed by FIN after 120/312 bytes delivered (request/response), gaps 0, out of order 0, overlaps 0`."""
        gaps, out_of_order, overlaps = self.counts
        request, response = self.streams
        return (f"connection #{self.conn_id} {endpoints(self.session.connection)} {why} after "
                f"{request.delivered}/{response.delivered} bytes delivered (request/response), gaps {gaps}, "
                f"out of order {out_of_order}, overlaps {overlaps}")


class TcpTable:
    def __init__(self, settings: dict[str, Any], runner_for: RunnerLookup,
                 make_connection: ConnectionFactory, ids: itertools.count[int]) -> None:
        self.max_connections: int = settings["max_connections"]
        self.stream_limit: int = settings["max_out_of_order_bytes_per_connection"]
        self.gap_timeout: float = settings["gap_timeout"]
        self.idle_timeout: float = settings["idle_timeout"]
        self.budget = ByteBudget(settings["max_out_of_order_bytes"])
        self.counters = TcpCounters()
        self.runner_for = runner_for
        self.make_connection = make_connection
        self.ids = ids
        self.table: dict[bytes, tuple[TcpConnection, Direction]] = {}
        self.conns: dict[int, TcpConnection] = {}
        self.opened = 0
        self.over_limit = 0
        self.expired = 0
        self.reused = 0
        # Connections just closed: key -> (its direction, ISN, end of stream) so that a retransmitted SYN
        # or segment arriving after the close (a capture that sees each packet twice does this) is known
        # for what it is, not taken for a new connection picked up mid-stream.
        self.max_closed: int = settings.get("max_closed_remembered", 4096)
        # Ordered so the oldest goes in O(1): a plain dict popped from the front leaves deleted slots that
        # every `next(iter(...))` walks again until the dict is resized.
        self.closed: OrderedDict[bytes, tuple[int | None, int | None]] = OrderedDict()
        self.stale = 0
        # Detection by content (the dispatcher sets it): connections on ports no module claims are probed.
        self.detector: Detector | None = None

    # --- per packet ----------------------------------------------------------------------------------
    def segment(self, key: bytes, ts: float, flags: int, seq: int, payload: bytes) -> bool:
        """Handle a segment as `handle` would, given its table key (see `connection_key`), and return True;
        or return False for a segment that opens a connection: the caller then calls `handle`."""
        entry = self.table.get(key)
        if entry is None:
            if self.closed and self._is_stale(key, flags, seq, payload):
                return True
            # As `handle`: nothing to learn from a bare ACK or RST of a connection we never saw.
            return bool(flags & TCP_RST or not (flags & TCP_SYN or payload))
        if flags & TCP_SYN and self._is_new_connection(entry, seq):
            return False
        conn, direction = entry
        conn.last_seen = ts
        if payload or flags & _SYN_FIN_RST or conn.streams[direction].fin_seq is not None:
            self._deliver(conn, direction, ts, flags, seq, payload)
        return True

    def handle(self, pkt: Packet) -> None:
        flags = pkt.tcp_flags
        key = connection_key(pkt.src, pkt.dst, pkt.sport, pkt.dport)
        entry = self.table.get(key)
        if entry is None:
            if self.closed and self._is_stale(key, flags, pkt.seq, pkt.payload):
                return
            if flags & TCP_RST or not (flags & TCP_SYN or pkt.payload):
                return  # nothing to learn from a bare ACK or RST of a connection we never saw
            entry = self._open(pkt, key)
            if entry is None:
                return
        elif flags & TCP_SYN and self._is_new_connection(entry, pkt.seq):
            self.reused += 1
            self._end(entry[0], pkt.ts, "ended by a new SYN on the same ports")
            entry = self._open(pkt, key)
            if entry is None:
                return
        conn, direction = entry
        conn.last_seen = pkt.ts
        self._deliver(conn, direction, pkt.ts, flags, pkt.seq, pkt.payload)

    def _deliver(self, conn: TcpConnection, direction: Direction, ts: float, flags: int, seq: int,
                 payload: bytes) -> None:
        stream = conn.streams[direction]
        if flags & TCP_SYN:
            if conn.isn[direction] is None and stream.syn(seq):
                conn.isn[direction] = seq
            seq = (seq + 1) & 0xFFFFFFFF
        if payload and not conn.ended[direction]:
            items = stream.segment(seq, payload, ts)
            if items:
                conn.runner.stream(conn.session, direction, items, ts)
        if flags & TCP_RST:
            self._end(conn, ts, "closed by RST")
            return
        if flags & TCP_FIN:
            stream.fin(seq + len(payload), ts)
        if stream.fin_seq is not None and stream.finished and not conn.ended[direction]:
            self._end_direction(conn, direction, [], ts)
            if conn.ended[OPPOSITE[direction]]:
                self._close(conn, ts, "closed by FIN")

    def _is_stale(self, key: bytes, flags: int, seq: int, payload: bytes) -> bool:
        """A SYN, data or a bare ACK/FIN/RST of a connection already closed, sent again: counted
        (tcp.stale_segments) and dropped. A new SYN or new data on those ports is a new connection, and
        the closed one is forgotten."""
        remembered = self.closed.get(key)
        if remembered is None:
            return False
        isn, end = remembered
        if flags & TCP_SYN:
            stale = seq == isn
        elif payload:
            stale = isn is not None and end is not None and seq_diff(seq, isn) > 0 and seq_diff(
                (seq + len(payload)) & 0xFFFFFFFF, end) <= 0
        else:
            stale = True  # nothing to learn from it, and it must not open a connection
        if stale:
            self.stale += 1
            return True
        del self.closed[key]
        return False

    def _remember_closed(self, conn: TcpConnection) -> None:
        for key in conn.keys:
            entry = self.table.get(key)
            if entry is None or entry[0] is not conn:
                continue
            direction = entry[1]
            if len(self.closed) >= self.max_closed:
                self.closed.popitem(last=False)  # the oldest goes first
            self.closed[key] = (conn.isn[direction], conn.streams[direction].next_seq)

    def _is_new_connection(self, entry: tuple[TcpConnection, Direction], seq: int) -> bool:
        """A SYN for a known address pair: a retransmitted SYN, or a new connection reusing the ports."""
        conn, direction = entry
        known = conn.isn[direction]
        if known is not None:
            return known != seq
        return conn.streams[direction].delivered > 0 or any(conn.ended)

    def _open(self, pkt: Packet, fwd: bytes) -> tuple[TcpConnection, Direction] | None:
        """A connection for `pkt`, whose table key is `fwd`; None when it is not tracked."""
        runner = self.runner_for(pkt.sport, pkt.dport)
        probing = False
        rev = connection_key(pkt.dst, pkt.src, pkt.dport, pkt.sport)
        if runner is None:
            detector = self.detector
            if detector is None or not detector.admit(fwd, rev):
                return None
            runner = cast("ModuleRunner", detector.runner("tcp"))  # stands in for a module's runner
            probing = True
        if len(self.conns) >= self.max_connections:
            self.over_limit += 1
            if DEBUG.enabled and DEBUG.admit():
                DEBUG.write("%s not tracked: max_connections (%d) reached", _packet_endpoints(pkt), self.max_connections)
            return None
        flags = pkt.tcp_flags
        if flags & TCP_SYN:
            client_is_src = not flags & TCP_ACK
        elif probing:  # no module port to go by: the client is likely the side on the higher (ephemeral) port
            client_is_src = pkt.sport > pkt.dport
        elif pkt.dport in runner.ports and pkt.sport not in runner.ports:
            client_is_src = True
        elif pkt.sport in runner.ports and pkt.dport not in runner.ports:
            client_is_src = False
        else:
            client_is_src = True
        connection = self.make_connection(pkt, client_is_src, "tcp")
        session = runner.open(connection)
        streams = (
            Reassembler(self.stream_limit, self.budget, self.counters),
            Reassembler(self.stream_limit, self.budget, self.counters),
        )
        conn = TcpConnection(connection.connection_id, (fwd, rev), runner, session, streams, pkt.ts)
        for direction, stream in zip((REQUEST, RESPONSE), streams, strict=True):
            stream.on_event = functools.partial(conn.on_event_logged, direction) if DEBUG.enabled else conn.on_event
        src_dir = REQUEST if client_is_src else RESPONSE
        self.table[fwd] = (conn, src_dir)
        self.table[rev] = (conn, OPPOSITE[src_dir])
        self.conns[conn.conn_id] = conn
        self.opened += 1
        if probing:
            probe: ProbeSession = session  # type: ignore[assignment]
            probe.claim = functools.partial(self._claimed, conn)
            probe.drop = functools.partial(self._unclaimed, conn)
        if DEBUG.enabled and DEBUG.admit():
            DEBUG.write("connection #%d %s opened for %s (%s)", conn.conn_id, endpoints(connection), runner.name,
                  _how_opened(flags, client_is_src))
        return conn, src_dir

    # --- detection by content ------------------------------------------------------------------------
    def _claimed(self, conn: TcpConnection, runner: ModuleRunner, chunks: list[Chunk]) -> None:
        """A probe claimed the connection: its module takes over and gets the first bytes, in order."""
        probe: ProbeSession = conn.session  # type: ignore[assignment]
        session = runner.open(probe.connection)
        conn.runner = runner
        conn.session = session
        if DEBUG.enabled and DEBUG.admit():
            DEBUG.write("connection #%d %s detected as %s", conn.conn_id, endpoints(session.connection), runner.name)
        ts = conn.last_seen
        for direction, data, ts in chunks:
            runner.stream(session, direction, [data], ts)
        for direction in (REQUEST, RESPONSE):
            if probe.eofs[direction]:  # that side ended while probed (the table will not end it again)
                runner.stream_eof(session, direction, ts)

    def _unclaimed(self, conn: TcpConnection) -> None:
        """No probe claimed it: forget the connection; its later packets are skipped by key."""
        if DEBUG.enabled and DEBUG.admit():
            DEBUG.write("connection #%d %s: no module recognised it; not followed", conn.conn_id,
                        endpoints(conn.session.connection))
        for stream in conn.streams:
            stream.release_all()
        for key in conn.keys:
            self.table.pop(key, None)
        self.conns.pop(conn.conn_id, None)
        if self.detector is not None:
            self.detector.reject_keys(*conn.keys)

    # --- ending ----------------------------------------------------------------------------------------
    def _end_direction(self, conn: TcpConnection, direction: Direction, items: list[Item], ts: float) -> None:
        conn.ended[direction] = True
        if items:
            conn.runner.stream(conn.session, direction, items, ts)
        conn.runner.stream_eof(conn.session, direction, ts)

    def _end(self, conn: TcpConnection, ts: float, why: str) -> None:
        """RST, expiry or flush: give up on what is missing, end both directions, close."""
        for direction in (REQUEST, RESPONSE):
            if not conn.ended[direction]:
                self._end_direction(conn, direction, conn.streams[direction].give_up(ts), ts)
        self._close(conn, ts, why)

    def _close(self, conn: TcpConnection, ts: float, why: str) -> None:
        if DEBUG.enabled and DEBUG.admit():
            DEBUG.write("%s", conn.describe_end(why))
        conn.runner.close(conn.session, ts)
        for stream in conn.streams:
            stream.release_all()
        if self.max_closed:
            self._remember_closed(conn)
        for key in conn.keys:
            self.table.pop(key, None)
        self.conns.pop(conn.conn_id, None)

    # --- housekeeping -------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        idle_timeout = self.idle_timeout
        for conn in list(self.conns.values()):
            if now - conn.last_seen > idle_timeout:
                self.expired += 1
                self._end(conn, now, f"expired after {idle_timeout:g}s idle")
                continue
            request_stream, response_stream = conn.streams
            if request_stream.hole_since is not None or response_stream.hole_since is not None:
                self._give_up_old_holes(conn, now)
            ended = conn.ended
            if ended[0] and ended[1]:
                self._close(conn, now, "closed (both directions ended)")
            else:
                conn.runner.expire(conn.session, now)

    def _give_up_old_holes(self, conn: TcpConnection, now: float) -> None:
        for direction in (REQUEST, RESPONSE):
            stream = conn.streams[direction]
            if stream.hole_since is not None and now - stream.hole_since >= self.gap_timeout:
                items = stream.give_up_hole(now)
                if items and not conn.ended[direction]:
                    conn.runner.stream(conn.session, direction, items, now)
                if stream.finished and not conn.ended[direction]:
                    self._end_direction(conn, direction, [], now)

    def flush(self, now: float) -> None:
        for conn in list(self.conns.values()):
            self._end(conn, now, "flushed at the end of capture")

    def stats(self) -> dict[str, int]:
        out = {
            "connections": len(self.conns),
            "connections_total": self.opened,
            "connections_over_limit": self.over_limit,
            "connections_expired": self.expired,
            "connections_reused": self.reused,
            "stale_segments": self.stale,
            "out_of_order_bytes": self.budget.used,
        }
        out.update(self.counters.as_dict())
        return out


def _how_opened(flags: int, client_is_src: bool) -> str:
    if flags & TCP_SYN:
        return "SYN seen" if client_is_src else "SYN-ACK seen; the SYN was missed"
    return "picked up mid-stream; client guessed from the ports"


def _packet_endpoints(pkt: Packet) -> str:
    family = socket.AF_INET if pkt.ip_version == 4 else socket.AF_INET6
    src, dst = socket.inet_ntop(family, pkt.src), socket.inet_ntop(family, pkt.dst)
    return f"tcp {src}:{pkt.sport} -> {dst}:{pkt.dport}"
