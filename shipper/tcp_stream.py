"""Reassembly of one direction of a TCP connection: segments in, in-order bytes and gaps out.

Sequence numbers are compared modulo 2**32, relative to the next byte we expect, so streams survive
wrap-around. Segments ahead of that point are held (up to a per-stream and a global byte budget) until
the hole before them fills; when a hole is given up on (over a limit, after `gap_timeout`, at the end
of the stream) the number of bytes lost is reported in place of the missing data.

Output items are `bytes` (data to parse) or `int` (that many bytes lost): a list in stream order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

__all__ = ["StreamEvent", "ByteBudget", "TcpCounters", "Reassembler", "seq_diff", "Item"]

SEQ_MASK = 0xFFFFFFFF
SEQ_HALF = 1 << 31
# A segment further ahead than this is not a reordering but a different stream (or garbage).
MAX_AHEAD = 1 << 30

Item = bytes | int


def seq_diff(a: int, b: int) -> int:
    """`a - b` in sequence space: negative when `a` comes before `b`."""
    d = (a - b) & SEQ_MASK
    return d - (1 << 32) if d >= SEQ_HALF else d


class StreamEvent(enum.IntEnum):
    """Stream health events that are counted per connection and on the transactions they affect."""

    GAP = 0
    OUT_OF_ORDER = 1
    OVERLAP = 2


class ByteBudget:
    """Out-of-order bytes held across all connections, against `tcp.max_out_of_order_bytes`."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class TcpCounters:
    """Global TCP counters, plain ints bumped on the (rare) paths that need them."""

    __slots__ = (
        "out_of_order",
        "overlaps",
        "retransmissions",
        "gaps",
        "bytes_lost",
        "gaps_over_limit",
        "gaps_timeout",
        "out_of_window",
    )

    def __init__(self) -> None:
        self.out_of_order = 0
        self.overlaps = 0
        self.retransmissions = 0
        self.gaps = 0
        self.bytes_lost = 0
        self.gaps_over_limit = 0
        self.gaps_timeout = 0
        self.out_of_window = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


EventSink = Callable[[float, StreamEvent, int], None]


def _ignore(ts: float, kind: StreamEvent, n: int) -> None:
    return None


class Reassembler:
    """One direction of one connection."""

    __slots__ = (
        "next_seq",
        "pending",
        "pending_bytes",
        "hole_since",
        "fin_seq",
        "limit",
        "budget",
        "counters",
        "on_event",
        "delivered",
    )

    def __init__(
        self,
        limit: int,
        budget: ByteBudget,
        counters: TcpCounters,
        on_event: EventSink = _ignore,
    ) -> None:
        self.next_seq: int | None = None  # next in-order sequence number; None until known
        self.pending: dict[int, bytes] = {}  # out-of-order segments by sequence number
        self.pending_bytes = 0
        self.hole_since: float | None = None  # when the current hole opened
        self.fin_seq: int | None = None  # sequence number of the FIN, once seen
        self.limit = limit
        self.budget = budget
        self.counters = counters
        self.on_event = on_event
        self.delivered = 0  # bytes handed on, in order

    # --- stream boundaries ---------------------------------------------------------------------
    def syn(self, seq: int) -> bool:
        """A SYN with initial sequence number `seq`. False if this stream already carried data."""
        if self.delivered or self.pending:
            return False
        self.next_seq = (seq + 1) & SEQ_MASK
        return True

    def fin(self, seq: int, ts: float) -> None:
        """A FIN at `seq` (the sequence number after the segment's data)."""
        if self.fin_seq is None:
            self.fin_seq = seq & SEQ_MASK
            if self.next_seq is None:
                self.next_seq = self.fin_seq
            if self.hole_since is None and seq_diff(self.fin_seq, self.next_seq) > 0:
                self.hole_since = ts

    @property
    def finished(self) -> bool:
        """The FIN was seen and every byte before it was delivered or given up on."""
        return self.fin_seq is not None and self.next_seq is not None and (
            seq_diff(self.fin_seq, self.next_seq) <= 0
        )

    # --- data ------------------------------------------------------------------------------------
    def segment(self, seq: int, data: bytes, ts: float) -> list[Item]:
        """A segment with payload `data` starting at `seq`; returns what is now in order."""
        nxt = self.next_seq
        if nxt is None:  # picked up mid-stream: start here
            nxt = self.next_seq = seq
        off = (seq - nxt) & SEQ_MASK  # seq_diff, inlined for the common case
        if off == 0 and not self.pending:  # the common case
            self.next_seq = (seq + len(data)) & SEQ_MASK
            self.delivered += len(data)
            return [data]
        if off >= SEQ_HALF:
            off -= 1 << 32
        end = off + len(data)
        if end <= 0:
            self.counters.retransmissions += 1
            return []
        if off < 0:
            self._note(ts, StreamEvent.OVERLAP)
            data = data[-off:]
            off = 0
            seq = nxt
        if off == 0:
            out: list[Item] = [data]
            self._advance(len(data))
            self._drain(out, ts)
            return out
        if off >= MAX_AHEAD:
            self.counters.out_of_window += 1
            return []
        return self._hold(seq, data, ts)

    def give_up(self, ts: float) -> list[Item]:
        """End of stream (FIN, RST, expiry, flush): deliver everything held, with gaps for holes."""
        out: list[Item] = []
        while self.pending:
            self._skip_hole(out, ts)
        if self.fin_seq is not None and self.next_seq is not None:
            missing = seq_diff(self.fin_seq, self.next_seq)
            if missing > 0:
                self._gap(out, missing, ts)
                self.next_seq = self.fin_seq
        self.hole_since = None
        return out

    def give_up_hole(self, ts: float) -> list[Item]:
        """The oldest hole waited too long: report it lost and deliver what follows it."""
        out: list[Item] = []
        if self.pending:
            self.counters.gaps_timeout += 1
            self._skip_hole(out, ts)
        elif self.fin_seq is not None:
            self.counters.gaps_timeout += 1
            out = self.give_up(ts)
        return out

    # --- internals ---------------------------------------------------------------------------------
    def _hold(self, seq: int, data: bytes, ts: float) -> list[Item]:
        out: list[Item] = []
        size = len(data)
        while self.pending and not self._fits(size, seq):
            self.counters.gaps_over_limit += 1
            self._skip_hole(out, ts)
            nxt = self.next_seq
            assert nxt is not None
            off = seq_diff(seq, nxt)
            if off <= 0:  # skipping caught up with this segment: it is (partly) in order now
                out.extend(self.segment(seq, data, ts))
                return out
        if not self._fits(size, seq):
            # Larger than the whole budget: give the hole up and deliver the segment directly.
            self.counters.gaps_over_limit += 1
            nxt = self.next_seq
            assert nxt is not None
            self._gap(out, seq_diff(seq, nxt), ts)
            self.next_seq = seq
            out.extend(self.segment(seq, data, ts))
            return out
        old = self.pending.get(seq)
        if old is not None:
            if len(old) >= size:
                self.counters.retransmissions += 1
                return out
            self._release(len(old))
        self.pending[seq] = data
        self.pending_bytes += size
        self.budget.used += size
        if self.hole_since is None:
            self.hole_since = ts
        return out

    def _fits(self, size: int, seq: int) -> bool:
        old = len(self.pending.get(seq, b""))
        extra = size - old
        return (
            self.pending_bytes + extra <= self.limit and self.budget.used + extra <= self.budget.limit
        )

    def _skip_hole(self, out: list[Item], ts: float) -> None:
        """Declare the bytes before the earliest held segment lost, then deliver from there."""
        nxt = self.next_seq
        assert nxt is not None
        first = min(self.pending, key=lambda s: seq_diff(s, nxt))
        missing = seq_diff(first, nxt)
        if missing > 0:
            self._gap(out, missing, ts)
            self.next_seq = first
        self._drain(out, ts)

    def _drain(self, out: list[Item], ts: float) -> None:
        """Deliver held segments that the stream has reached."""
        while self.pending:
            nxt = self.next_seq
            assert nxt is not None
            first = min(self.pending, key=lambda s: seq_diff(s, nxt))
            off = seq_diff(first, nxt)
            if off > 0:
                self.hole_since = ts
                return
            data = self.pending.pop(first)
            self._release(len(data))
            if off + len(data) <= 0:
                continue
            if off < 0:
                self._note(ts, StreamEvent.OVERLAP)
                data = data[-off:]
            # Counted when delivered, so that it lands on the message it becomes part of.
            self._note(ts, StreamEvent.OUT_OF_ORDER)
            out.append(data)
            self._advance(len(data))
        self.hole_since = None
        reached = self.next_seq
        assert reached is not None
        if self.fin_seq is not None and seq_diff(self.fin_seq, reached) > 0:
            self.hole_since = ts

    def _advance(self, n: int) -> None:
        nxt = self.next_seq
        assert nxt is not None
        self.next_seq = (nxt + n) & SEQ_MASK
        self.delivered += n

    def _release(self, n: int) -> None:
        self.pending_bytes -= n
        self.budget.used -= n

    def _gap(self, out: list[Item], missing: int, ts: float) -> None:
        out.append(missing)
        self.counters.gaps += 1
        self.counters.bytes_lost += missing
        self.on_event(ts, StreamEvent.GAP, missing)

    def _note(self, ts: float, kind: StreamEvent) -> None:
        if kind is StreamEvent.OVERLAP:
            self.counters.overlaps += 1
        else:
            self.counters.out_of_order += 1
        self.on_event(ts, kind, 1)

    def release_all(self) -> None:
        """Return held bytes to the global budget (the connection is being dropped), and let go of the
        event sink: it is the connection's bound method, a reference cycle that only the cyclic
        collector would free otherwise."""
        self.budget.used -= self.pending_bytes
        self.pending_bytes = 0
        self.pending.clear()
        self.on_event = _ignore
