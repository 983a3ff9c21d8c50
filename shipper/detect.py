"""Detection by content: which module a connection on a port no module claims belongs to.

With `packetshipper.detect_protocols: true`, the TCP and UDP tables open a connection (or flow) on an
unknown port with `Detector.runner(transport)` in the place of a module's runner. It keeps the first
bytes of each side (in arrival order, bounded by `detect.max_bytes`) and asks the probe of every
enabled module that has one (`ProtocolModule.probe`), in `probe_order`. A module that answers NO is
not asked again; the first YES with no undecided probe before it claims the connection: the table
then hands it to that module's runner and replays the bytes kept, so the module sees the connection
from its start exactly as on its own port. A connection every probe refuses (or that goes past
`max_bytes`, a gap or `detect.timeout` without a YES) is dropped from the table and its keys go into
`rejected`, which the engine checks before anything else so that its later packets cost one lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import settings as _s
from .protocol import Connection, Direction, ProtocolModule, Verdict
from .settings import Setting, Spec

if TYPE_CHECKING:
    from .dispatch import ModuleRunner
    from .tcp_stream import Item, StreamEvent

__all__ = ["DETECT_SETTINGS", "Chunk", "Detector", "ProbeRunner", "ProbeSession"]

_count = _s.at_least(1)

DETECT_SETTINGS: Spec = {
    "detect_protocols": Setting(_s.boolean, False, "find the module of a TCP connection or UDP flow on a port no "
                                "module claims from its first bytes (the modules' probes); see packetshipper.detect"),
    "detect": {
        "max_bytes": Setting(_count, 4096, "first bytes of a connection (both sides together) the probes look at; "
                             "one no probe claimed by then is unclaimed (protocols.detect.over_max_bytes)"),
        "max_connections": Setting(_count, 4096, "connections and flows being probed at once; a new one over this "
                                   "is not probed (protocols.detect.over_limit)"),
        "max_rejected": Setting(_count, 65536, "connections decided unclaimed whose packets are then skipped with "
                                "one lookup; over this the oldest is forgotten (protocols.detect.rejected_forgotten) "
                                "and its next packets are probed again"),
        "timeout": Setting(_s.duration, 10.0, "how long a connection may wait in probing for a decision; then it is "
                           "unclaimed (protocols.detect.timed_out)"),
    },
}

# One piece of a connection's first data, as it arrived: side, bytes, packet time.
Chunk = tuple[Direction, bytes, float]
ClaimHandler = Callable[["ModuleRunner", list[Chunk]], None]


def _has_probe(module: ProtocolModule) -> bool:
    return type(module).probe is not ProtocolModule.probe


class ProbeSession:
    """One connection in probing. The table sets `claim` and `drop` once it has built the connection."""

    __slots__ = ("connection", "candidates", "waiting", "chunks", "seen", "kept", "started", "decided", "claim",
                 "drop", "eofs")

    def __init__(self, connection: Connection, candidates: list[ModuleRunner]) -> None:
        self.connection = connection
        self.candidates = candidates
        self.chunks: list[Chunk] = []
        self.seen = [bytearray(), bytearray()]  # per side: what the probes look at (up to max_bytes)
        self.kept = 0  # bytes in chunks
        self.waiting: ModuleRunner | None = None  # said YES, but a probe before it could not tell yet
        self.started: float | None = None  # the time of its first bytes
        self.decided = False
        self.eofs = [False, False]  # per side: ended while probed
        self.claim: ClaimHandler | None = None
        self.drop: Callable[[], None] | None = None


class Detector:
    """The probes of the enabled modules, the connections being probed and the rejected keys."""

    def __init__(self, runners: list[ModuleRunner], settings: dict[str, Any]) -> None:
        self.max_bytes: int = settings["max_bytes"]
        self.max_probing: int = settings["max_connections"]
        self.max_rejected: int = settings["max_rejected"]
        self.timeout: float = settings["timeout"]
        probing = sorted((r for r in runners if _has_probe(r.module)), key=lambda r: r.module.probe_order)
        self.probes = {t: [r for r in probing if t in r.module.transports] for t in ("tcp", "udp")}
        # key of one direction -> the other direction's key (so a new SYN forgets both)
        self.rejected: dict[bytes, bytes] = {}
        self.probing = 0
        self.probing_max = 0  # the most in probing at once, to show max_connections holds
        self.claimed: dict[str, int] = {}
        self.counts = {"unclaimed": 0, "over_limit": 0, "over_max_bytes": 0, "timed_out": 0, "gaps": 0,
                       "ended": 0, "probe_bugs": 0, "rejected_forgotten": 0, "bytes_probed": 0}
        self._runners = {t: ProbeRunner(self, t) for t in ("tcp", "udp")}

    def runner(self, transport: str) -> ProbeRunner:
        return self._runners[transport]

    # --- the tables' calls ---------------------------------------------------------------------------
    def admit(self, fwd: bytes, rev: bytes) -> bool:
        """May a new connection with these keys be probed? If not, it is counted and rejected."""
        if fwd in self.rejected:
            return False
        if self.probing >= self.max_probing:
            self.counts["over_limit"] += 1
            self.reject_keys(fwd, rev)
            return False
        return True

    def reject_keys(self, fwd: bytes, rev: bytes) -> None:
        rejected = self.rejected
        while len(rejected) >= 2 * self.max_rejected:  # two keys per connection
            oldest = next(iter(rejected))
            partner = rejected.pop(oldest)
            rejected.pop(partner, None)
            self.counts["rejected_forgotten"] += 1
        rejected[fwd] = rev
        rejected[rev] = fwd

    def forget(self, key: bytes) -> bool:
        """A new connection (a SYN) on the keys of a rejected one: probe it afresh. Returns True."""
        partner = self.rejected.pop(key, None)
        if partner is not None:
            self.rejected.pop(partner, None)
        return True

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"claimed": dict(self.claimed), "probing": self.probing,
                               "probing_max": self.probing_max,
                               "rejected_remembered": len(self.rejected) // 2}
        out.update(self.counts)
        return out

    # --- deciding -------------------------------------------------------------------------------------
    def open(self, connection: Connection, transport: str) -> ProbeSession:
        self.probing += 1
        if self.probing > self.probing_max:
            self.probing_max = self.probing
        return ProbeSession(connection, list(self.probes[transport]))

    def keep(self, session: ProbeSession, direction: Direction, data: bytes, ts: float, transport: str) -> None:
        """Bytes of one side (TCP: the next in-order bytes; UDP: a datagram): keep them, probe, decide."""
        if session.started is None:
            session.started = ts
        room = self.max_bytes - session.kept
        session.chunks.append((direction, data, ts))
        session.kept += len(data)
        if room > 0:
            if transport == "udp":
                probed = data[:room]
            else:
                seen = session.seen[direction]
                seen += data[:room]
                probed = bytes(seen)
            self.counts["bytes_probed"] += min(len(data), room)
            self._ask(session, probed, direction, transport)
        if not session.decided and session.kept >= self.max_bytes:
            self._settle(session, "over_max_bytes")

    def _ask(self, session: ProbeSession, data: bytes, direction: Direction, transport: str) -> None:
        left: list[ModuleRunner] = []
        session.waiting = None
        for runner in session.candidates:
            try:
                verdict = runner.module.probe(data, direction, transport)
            except Exception:  # a broken probe must not stop capture: it just cannot claim
                self.counts["probe_bugs"] += 1
                verdict = Verdict.NO
            if verdict is Verdict.YES:
                if not left:
                    self._claim(session, runner)
                    return
                if session.waiting is None:  # a stricter probe before it cannot tell yet: wait for it
                    session.waiting = runner
            if verdict is not Verdict.NO:
                left.append(runner)
        session.candidates = left
        if not left:
            self._unclaimed(session, "unclaimed")

    def _settle(self, session: ProbeSession, why: str, drop: bool = True) -> None:
        """No more bytes will be probed: a YES waiting behind an undecided probe wins, else unclaimed."""
        if session.waiting is not None:
            self._claim(session, session.waiting)
        else:
            self._unclaimed(session, why, drop)

    def _claim(self, session: ProbeSession, runner: ModuleRunner) -> None:
        session.decided = True
        self.probing -= 1
        self.claimed[runner.name] = self.claimed.get(runner.name, 0) + 1
        chunks, session.chunks = session.chunks, []
        if session.claim is not None:
            session.claim(runner, chunks)

    def _unclaimed(self, session: ProbeSession, why: str, drop: bool = True) -> None:
        session.decided = True
        self.probing -= 1
        self.counts["unclaimed"] += 1
        if why != "unclaimed":
            self.counts[why] += 1
        session.chunks = []
        if drop and session.drop is not None:
            session.drop()

    def end(self, session: ProbeSession, final: bool) -> None:
        """A side ended: a YES waiting behind an undecided probe claims now. At the close (`final`, the
        table is dropping the connection itself) an undecided connection is unclaimed."""
        if session.decided:
            return
        if final:
            self._unclaimed(session, "ended", drop=False)
        elif session.waiting is not None:
            self._claim(session, session.waiting)


class ProbeRunner:
    """Stands in for a module's runner while a connection is probed (the tables call it the same way)."""

    name = "detect"
    ports: frozenset[int] = frozenset()

    def __init__(self, detector: Detector, transport: str) -> None:
        self.detector = detector
        self.transport = transport

    def open(self, connection: Connection) -> ProbeSession:
        return self.detector.open(connection, self.transport)

    def direction_of(self, session: ProbeSession, sport: int, dport: int) -> Direction | None:
        return None

    def stream(self, session: ProbeSession, direction: Direction, items: list[Item], ts: float) -> None:
        detector = self.detector
        for item in items:
            if session.decided:
                return
            if isinstance(item, int):  # the start of a side is lost: nothing trustworthy to probe
                detector._unclaimed(session, "gaps")
                return
            detector.keep(session, direction, item, ts, "tcp")

    def stream_eof(self, session: ProbeSession, direction: Direction, ts: float) -> None:
        session.eofs[direction] = True
        self.detector.end(session, False)

    def note(self, session: ProbeSession, ts: float, kind: StreamEvent) -> None:
        pass

    def datagram(self, session: ProbeSession, data: bytes, ts: float, direction: Direction) -> None:
        if not session.decided:
            self.detector.keep(session, direction, data, ts, "udp")

    def settled(self, session: ProbeSession) -> bool:
        return False  # a probe times out by `expire`: every pass looks at it

    def expire(self, session: ProbeSession, now: float) -> None:
        started = session.started
        if not session.decided and started is not None and now - started > self.detector.timeout:
            self.detector._settle(session, "timed_out")

    def close(self, session: ProbeSession, now: float) -> None:
        self.detector.end(session, True)
