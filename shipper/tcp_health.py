"""TCP health of one flow, from passive capture: Zeek's connection state and history, handshake timing,
a running round-trip estimate, and per side retransmissions, reordering, gaps and zero windows.

`TcpHealth.update` is called once per TCP packet of the flow (the engine's fast path calls it inline), so
it does a fixed, small amount of work and keeps a fixed set of integers: no per-packet allocation beyond
Python's own ints, nothing that grows with the flow.

The state machine and the history letters follow Zeek (`TCPSessionAdapter.cc`, `conn/main.zeek`):
upper case for the originator, lower case for the responder; 'a', 'd', 'i' and 'q' at most once per side;
's', 'h', 'f' and 'r' again only when their sequence number differs from the last such packet's; 't',
'w' and 'g' logarithmically (the 1st, 10th, 100th, ... occurrence); '^' first when the originator (the
client) is not the flow's first sender. Zeek's 'c' (bad checksum: offloading makes checksums useless on
a sensor) and 'x' are never written. The originator is the flow's client (`Flow.client_is_source`).

Sequence tracking keeps, per side, the next byte expected and one open hole (bytes skipped over by a
later segment). A segment that fills the hole is out of order; one that starts below the next byte and
does not fill the hole is a retransmission; bytes the peer acknowledges that were never seen are a gap.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["TcpHealth", "TCP_FLAG_NAMES", "CONNECTION_STATES"]

CONNECTION_STATES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH")
TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")

# Zeek's endpoint states.
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
# History bits seen per side (Zeek's HIST_*): each letter of the once-only kind is written once.
_H_SYN, _H_FIN, _H_RST, _H_ACK, _H_DATA, _H_FIN_RST, _H_MULTI = 1, 2, 4, 8, 16, 32, 64
_M32 = 0xFFFFFFFF
_HALF = 1 << 31
_JUMP = 1 << 30  # a larger sequence or acknowledgement jump is not believed
MAX_HISTORY = 48  # letters kept; Zeek's own history is unbounded, ours stops here
_FLAG_LISTS = tuple(tuple(name for bit, name in enumerate(TCP_FLAG_NAMES) if value >> bit & 1) for value in range(256))
_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def _delta(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, as a signed number."""
    return ((a - b + _HALF) & _M32) - _HALF


def _scaled(count: int) -> bool:
    """Zeek's logarithmic history letters: the 1st, 10th, 100th, ... occurrence."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


class _Side:
    """What one side sent (or advertised)."""

    # The fields every packet touches first: they share a cache line or two (flows are many, and cold).
    __slots__ = ("flags", "hseen", "nxt", "probe_end", "probe_ts", "hole_missing", "n", "total", "squares",
                 "state", "prev", "last_syn", "last_fin", "last_rst", "rx_packets", "rx_bytes", "rx_payload",
                 "out_of_order", "gap_bytes", "gaps", "zero_windows", "hole_lo", "hole_hi", "data")

    def __init__(self) -> None:
        self.state = self.prev = INACTIVE
        self.hseen = 0
        self.last_syn = self.last_fin = self.last_rst = -1
        self.nxt = -1  # one past the highest sequence number seen; -1 before the first segment
        self.flags = 0
        self.rx_packets = self.rx_bytes = self.rx_payload = 0
        self.out_of_order = self.gap_bytes = self.gaps = self.zero_windows = 0
        self.hole_lo = self.hole_hi = self.hole_missing = 0
        self.probe_end = 0
        self.probe_ts = -1.0  # send time of the one segment being timed; -1: none
        self.n = 0
        self.total = self.squares = 0.0  # of the samples, in seconds (doubles keep microseconds exact enough)
        self.data = False

    def set(self, state: int) -> None:
        if state != self.state:
            self.prev, self.state = self.state, state

    def sample(self, rtt: float) -> None:
        if rtt < 0:  # the clock went back (an unsorted or damaged capture, a clock step): no sample
            return
        self.n += 1
        self.total += rtt
        self.squares += rtt * rtt

    def fields(self) -> dict[str, Any]:
        return {
            "retransmitted_packets": self.rx_packets,
            "retransmitted_bytes": self.rx_bytes,
            "out_of_order": self.out_of_order,
            "gap_bytes": self.gap_bytes,
            "zero_windows": self.zero_windows,
            "flags": list(_FLAG_LISTS[self.flags & 0xFF]),
        }


class TcpHealth:
    """TCP health of one flow. Direction 0 is the flow's source (its first sender)."""

    __slots__ = ("s0", "s1", "fast", "orig_dir", "history", "syn_ts", "synack_ts", "server_us", "client_us")

    def __init__(self, client_is_source: bool) -> None:
        self.orig_dir = 0 if client_is_source else 1
        self.s0 = _Side()
        self.s1 = _Side()
        self.history = "" if client_is_source else "^"
        self.syn_ts = self.synack_ts = -1.0
        self.server_us = self.client_us = -1
        self.fast = False  # both sides established and the handshake timed (or not timeable)

    def carried_payload(self) -> bool:
        """Whether either side has sent payload so far."""
        return self.s0.data or self.s1.data

    def _letter(self, is_orig: bool, letter: str) -> None:
        if len(self.history) < MAX_HISTORY:
            self.history += letter.upper() if is_orig else letter

    def update(self, d: int, ts: float, flags: int, seq: int, ack: int, window: int, plen: int) -> None:
        """Account one segment sent by side `d` with `plen` payload bytes (on the wire, even if cut)."""
        if d:
            me, peer = self.s1, self.s0
        else:
            me, peer = self.s0, self.s1
        me.flags |= flags
        if flags & 0x07 or not window or not self.fast:
            self._slow(d, me, peer, ts, flags, seq, ack, window, plen)
            return
        # The common case, data or an ACK on an open connection: _slow's steps, inlined, fewer tests.
        if plen:
            if not me.hseen & _H_DATA:
                me.hseen |= _H_DATA
                me.data = True
                self._letter(d == self.orig_dir, "d")
        elif not me.hseen & _H_ACK:
            me.hseen |= _H_ACK
            self._letter(d == self.orig_dir, "a")
        if flags & _ACK:
            if peer.probe_ts >= 0 and (ack - peer.probe_end) & _M32 < _HALF:  # the ACK covers the timed byte
                rtt = ts - peer.probe_ts
                if rtt >= 0:  # else the clock went back: no sample
                    peer.n += 1
                    peer.total += rtt
                    peer.squares += rtt * rtt
                peer.probe_ts = -1.0
            if peer.hole_missing or 0 < (ack - peer.nxt) & _M32 < _HALF:
                self._acked(d == self.orig_dir, peer, ack)
        if plen:
            if seq == me.nxt:
                me.nxt = (seq + plen) & _M32
                if me.probe_ts < 0 and not me.hole_missing:
                    me.probe_end, me.probe_ts = me.nxt, ts
            else:
                self._sequence(me, d == self.orig_dir, ts, flags, seq, plen, plen)

    def _slow(self, d: int, me: _Side, peer: _Side, ts: float, flags: int, seq: int, ack: int, window: int,
              plen: int) -> None:
        is_orig = d == self.orig_dir
        syn, fin, rst, has_ack = flags & _SYN, flags & _FIN, flags & _RST, flags & _ACK
        span = 0 if rst else plen + (1 if syn else 0) + (1 if fin else 0)
        self._history(me, is_orig, syn, fin, rst, has_ack, seq, plen, span)
        if plen:
            me.data = True
        if window == 0 and not rst and peer.state != CLOSED and me.state != RESET:
            me.zero_windows += 1
            if _scaled(me.zero_windows):
                self._letter(is_orig, "w")
        # Handshake timing at the sensor.
        if syn:
            if is_orig and not has_ack:
                if self.synack_ts < 0:
                    self.syn_ts = ts  # the latest SYN: a SYN-ACK answers the retransmission
            elif not is_orig and has_ack and self.syn_ts >= 0:
                if self.synack_ts < 0:
                    self.server_us = max(0, round((ts - self.syn_ts) * 1e6))
                if self.client_us < 0:
                    self.synack_ts = ts
        elif is_orig and has_ack and not rst and self.synack_ts >= 0 and self.client_us < 0:
            self.client_us = max(0, round((ts - self.synack_ts) * 1e6))
        if has_ack and not rst:  # Zeek does not trust the acknowledgements of RSTs either
            if peer.probe_ts >= 0 and _delta(ack, peer.probe_end) >= 0:
                peer.sample(ts - peer.probe_ts)
                peer.probe_ts = -1.0
            if peer.nxt >= 0:
                self._acked(is_orig, peer, ack)
        if me.nxt < 0:
            if not rst:  # the first segment of a side sets its place, even a pure ACK's
                me.nxt = (seq + span) & _M32
                if plen and not syn:
                    me.probe_end, me.probe_ts = me.nxt, ts
        elif span:
            if seq == me.nxt:
                me.nxt = (seq + span) & _M32
                if plen and me.probe_ts < 0 and not me.hole_missing:
                    me.probe_end, me.probe_ts = me.nxt, ts
            elif syn and (seq + 1) & _M32 != me.nxt:
                me.nxt = (seq + span) & _M32  # a SYN with another initial number starts afresh
            else:
                self._sequence(me, is_orig, ts, flags, seq, plen, span)
        self._state(me, peer, is_orig, syn, fin, rst, has_ack, plen)
        self.fast = (me.state == ESTABLISHED and peer.state == ESTABLISHED
                     and (self.synack_ts < 0 or self.client_us >= 0))

    def _sequence(self, me: _Side, is_orig: bool, ts: float, flags: int, seq: int, plen: int, span: int) -> None:
        """A segment that does not start at the next byte expected."""
        delta = _delta(seq, me.nxt)
        end = (seq + span) & _M32
        if delta > 0:
            if delta >= _JUMP:  # not believable as a hole: start over from here
                me.nxt = end
                return
            if me.hole_missing:  # one hole per side: a second one merges into it
                me.hole_missing += delta
            else:
                me.hole_lo, me.hole_missing = me.nxt, delta
            me.hole_hi = seq
            me.nxt = end  # no probe starts while the hole is open: its ACK waits for the hole's bytes
            return
        if delta <= -_JUMP:
            return  # far behind: a stale segment, nothing to learn
        if me.hole_missing and _delta(seq, me.hole_hi) < 0 and _delta(end, me.hole_lo) > 0:
            lo = seq if _delta(seq, me.hole_lo) > 0 else me.hole_lo
            hi = end if _delta(end, me.hole_hi) < 0 else me.hole_hi
            me.hole_missing = max(0, me.hole_missing - _delta(hi, lo))
            me.out_of_order += 1
        else:
            me.rx_packets += 1
            me.rx_bytes += min(plen, -delta)
            if plen:
                me.rx_payload += 1
                if _scaled(me.rx_payload):
                    self._letter(is_orig, "t")
            if me.probe_ts >= 0 and _delta(seq, me.probe_end) < 0:
                me.probe_ts = -1.0  # Karn: the ACK could answer either copy
        if _delta(end, me.nxt) > 0:
            me.nxt = end

    def _acked(self, is_orig: bool, peer: _Side, ack: int) -> None:
        """The peer's bytes below `ack` reached the receiver: the ones never seen here are a gap."""
        missing = 0
        if peer.hole_missing and _delta(ack, peer.hole_hi) >= 0:
            missing, peer.hole_missing = peer.hole_missing, 0
        ahead = _delta(ack, peer.nxt)
        if 0 < ahead < _JUMP:
            missing += ahead
            peer.nxt = ack & _M32
        if missing:
            peer.gap_bytes += missing
            peer.gaps += 1
            if _scaled(peer.gaps):
                self._letter(not is_orig, "g")

    def _history(self, me: _Side, is_orig: bool, syn: int, fin: int, rst: int, has_ack: int, seq: int, plen: int,
                 span: int) -> None:
        """Zeek's update_history."""
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            mask, letter = (_H_FIN_RST, "i") if fin and rst else (_H_MULTI, "q")
            if not me.hseen & mask:
                me.hseen |= mask
                self._letter(is_orig, letter)
        elif bits == 1:
            if syn:
                letter = "h" if has_ack else "s"
                if not me.hseen & _H_SYN:
                    me.hseen |= _H_SYN
                    self._letter(is_orig, letter)
                elif seq != me.last_syn:
                    self._letter(is_orig, letter)
                me.last_syn = seq
            elif fin:
                where = (seq + plen) & _M32  # a FIN's place is after its data
                if not me.hseen & _H_FIN:
                    me.hseen |= _H_FIN
                    self._letter(is_orig, "f")
                elif where != me.last_fin:
                    self._letter(is_orig, "f")
                me.last_fin = where
            else:
                if not me.hseen & _H_RST:
                    me.hseen |= _H_RST
                    self._letter(is_orig, "r")
                elif seq != me.last_rst:
                    self._letter(is_orig, "r")
                me.last_rst = seq
        elif plen:
            if not me.hseen & _H_DATA:
                me.hseen |= _H_DATA
                self._letter(is_orig, "d")
        elif has_ack and not me.hseen & _H_ACK:
            me.hseen |= _H_ACK
            self._letter(is_orig, "a")

    def _state(self, me: _Side, peer: _Side, is_orig: bool, syn: int, fin: int, rst: int, has_ack: int,
               plen: int) -> None:
        """Zeek's UpdateStateMachine, without its weirds and timers."""
        state = me.state
        if state == INACTIVE:
            if syn:
                if is_orig:
                    me.set(SYN_ACK_SENT if has_ack else SYN_SENT)
                else:
                    if peer.state == SYN_SENT:
                        peer.set(ESTABLISHED)
                    me.set(ESTABLISHED)
            if fin:
                me.set(CLOSED)
            if rst:
                me.set(RESET)
            if me.state == INACTIVE:
                orig = peer if not is_orig else me
                if not is_orig and plen == 0 and orig.state == SYN_SENT:
                    pass  # an ACK of the SYN before the SYN-ACK: not a partial connection
                elif has_ack and peer.state == ESTABLISHED:
                    me.set(ESTABLISHED)  # the SYN was missed, the SYN-ACK was not
                else:
                    me.set(PARTIAL)
        elif state in (SYN_SENT, SYN_ACK_SENT):
            if fin:
                me.set(CLOSED)
            if rst:
                me.set(RESET)
        elif state in (ESTABLISHED, PARTIAL):
            if syn and state == PARTIAL and peer.state == INACTIVE and not has_ack:
                me.set(SYN_SENT)
            if fin and not rst:
                me.set(CLOSED)
                if peer.state == RESET and peer.prev == CLOSED:
                    peer.set(CLOSED)  # the peer's FIN then RST: a normal close after all
            if rst:
                me.set(RESET)
        elif state == CLOSED and rst and peer.state != CLOSED:
            me.set(RESET)

    # --- reporting -----------------------------------------------------------------------------------

    def connection_state(self) -> str:
        """Zeek's conn_state() for TCP."""
        orig, resp = (self.s0, self.s1) if self.orig_dir == 0 else (self.s1, self.s0)
        os, rs = orig.state, resp.state
        o_inactive = os in (INACTIVE, PARTIAL)
        r_inactive = rs in (INACTIVE, PARTIAL)
        if rs == RESET:
            if os in (SYN_SENT, SYN_ACK_SENT) or (os == RESET and not orig.data and not resp.data):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os == RESET:
            if r_inactive:
                return "RSTOS0" if _RSTOS0.fullmatch(self.history) else "OTH"
            return "RSTO"
        if rs == CLOSED and os == CLOSED:
            return "SF"
        if os == CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == CLOSED:
            return "SHR" if o_inactive else "S3"
        if os == SYN_SENT and rs == INACTIVE:
            return "S0"
        if os == ESTABLISHED and rs == ESTABLISHED:
            return "S1"
        return "OTH"

    def rtt_fields(self) -> dict[str, Any]:
        """Handshake halves, and the running estimate of the whole round trip.

        Samples from the originator's data time the sensor-to-responder half of the path, samples from
        the responder's data the sensor-to-originator half; the estimate adds the two halves' means (a half
        without samples takes its handshake counterpart), so it is the round trip whatever the sensor's place.
        """
        server_us, client_us = self.server_us, self.client_us
        orig, resp = (self.s0, self.s1) if self.orig_dir == 0 else (self.s1, self.s0)
        samples = orig.n + resp.n
        out: dict[str, Any] = {"samples": samples}
        if server_us >= 0:
            out["server_us"] = server_us
            if client_us >= 0:
                out["handshake_us"] = server_us + client_us
        if client_us >= 0:
            out["client_us"] = client_us
        if samples and (orig.n or server_us >= 0) and (resp.n or client_us >= 0):
            mean = variance = 0.0
            if orig.n:
                half = orig.total / orig.n
                mean, variance = half, max(0.0, orig.squares / orig.n - half * half)
            else:
                mean = server_us * 1e-6
            if resp.n:
                half = resp.total / resp.n
                mean += half
                variance += max(0.0, resp.squares / resp.n - half * half)
            else:
                mean += client_us * 1e-6
            out["mean_us"] = round(mean * 1e6)
            out["stddev_us"] = round(math.sqrt(variance) * 1e6)
        return out

    def fields(self, final: bool) -> dict[str, Any]:
        """The flow event's `tcp` object. A gap still open at the end of the flow was never filled."""
        source, destination = self.s0.fields(), self.s1.fields()
        if final:
            source["gap_bytes"] += self.s0.hole_missing
            destination["gap_bytes"] += self.s1.hole_missing
        return {
            "connection_state": self.connection_state(),
            "history": self.history,
            "rtt": self.rtt_fields(),
            "source": source,
            "destination": destination,
        }
