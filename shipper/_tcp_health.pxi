# TCP health in C: the same arithmetic, step for step, as shipper/tcp_health.py (the reference; read it
# for the why). Numbers that Python keeps as unbounded ints are 64-bit here and every expression is
# written as in Python (masks included), so results are identical for 32-bit sequence numbers.

cdef extern from "math.h" nogil:
    double nearbyint(double x)  # round half to even in the default rounding mode, as Python's round()

DEF MAX_HISTORY = 48
cdef enum:
    INACTIVE = 0
    SYN_SENT = 1
    SYN_ACK_SENT = 2
    PARTIAL = 3
    ESTABLISHED = 4
    CLOSED = 5
    RESET = 6

cdef enum:
    _FIN = 0x01
    _SYN = 0x02
    _RST = 0x04
    _ACK = 0x10
    _H_SYN = 1
    _H_FIN = 2
    _H_RST = 4
    _H_ACK = 8
    _H_DATA = 16
    _H_FIN_RST = 32
    _H_MULTI = 64

cdef long long _M32 = 0xFFFFFFFFLL
cdef long long _HALF = 1LL << 31
cdef long long _JUMP = 1LL << 30

ctypedef struct Side:
    int flags
    int hseen
    long long nxt
    long long probe_end
    double probe_ts
    long long hole_missing
    long long n
    double total
    double squares
    int state
    int prev
    long long last_syn
    long long last_fin
    long long last_rst
    long long rx_packets
    long long rx_bytes
    long long rx_payload
    long long out_of_order
    long long gap_bytes
    long long gaps
    long long zero_windows
    long long hole_lo
    long long hole_hi
    bint data


cdef inline long long _delta(long long a, long long b) noexcept nogil:
    return ((a - b + _HALF) & _M32) - _HALF


cdef inline bint _scaled(long long count) noexcept nogil:
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


cdef void _side_init(Side* s) noexcept nogil:
    s.state = INACTIVE
    s.prev = INACTIVE
    s.hseen = 0
    s.last_syn = -1
    s.last_fin = -1
    s.last_rst = -1
    s.nxt = -1
    s.flags = 0
    s.rx_packets = 0
    s.rx_bytes = 0
    s.rx_payload = 0
    s.out_of_order = 0
    s.gap_bytes = 0
    s.gaps = 0
    s.zero_windows = 0
    s.hole_lo = 0
    s.hole_hi = 0
    s.hole_missing = 0
    s.probe_end = 0
    s.probe_ts = -1.0
    s.n = 0
    s.total = 0.0
    s.squares = 0.0
    s.data = False


cdef inline void _side_set(Side* s, int state) noexcept nogil:
    if state != s.state:
        s.prev = s.state
        s.state = state


cdef inline void _side_sample(Side* s, double rtt) noexcept nogil:
    if rtt < 0:
        return
    s.n += 1
    s.total += rtt
    s.squares += rtt * rtt


cdef tuple _FLAGS = _FLAG_LISTS  # a C global: no module dict lookup per report


cdef object _side_fields(Side* s, long long extra_gap):
    return {
        "retransmitted_packets": s.rx_packets,
        "retransmitted_bytes": s.rx_bytes,
        "out_of_order": s.out_of_order,
        "gap_bytes": s.gap_bytes + extra_gap,
        "zero_windows": s.zero_windows,
        "flags": list(<tuple>_FLAGS[s.flags & 0xFF]),
    }


ctypedef struct Rtt:  # what rtt_fields reports, before it is made a dict (or JSON)
    long long samples
    long long server_us  # -1: none
    long long client_us  # -1: none
    bint averaged  # mean and variance hold the running RTT
    double mean
    double variance


cdef class TcpHealth:
    """TCP health of one flow (compiled; the same interface and results as tcp_health.TcpHealth)."""

    cdef Side s0
    cdef Side s1
    cdef bint fast
    cdef int orig_dir
    cdef char hist[MAX_HISTORY]
    cdef int hlen
    cdef double syn_ts
    cdef double synack_ts
    cdef long long server_us
    cdef long long client_us

    def __cinit__(self, bint client_is_source):
        self.orig_dir = 0 if client_is_source else 1
        _side_init(&self.s0)
        _side_init(&self.s1)
        self.hlen = 0
        if not client_is_source:
            self.hist[0] = b'^'
            self.hlen = 1
        self.syn_ts = -1.0
        self.synack_ts = -1.0
        self.server_us = -1
        self.client_us = -1
        self.fast = False

    @property
    def history(self) -> str:
        return self.hist[:self.hlen].decode("ascii")

    def carried_payload(self) -> bool:
        """Whether either side has sent payload so far."""
        return bool(self.s0.data or self.s1.data)

    cdef inline void _letter(self, bint is_orig, char letter) noexcept:
        if self.hlen < MAX_HISTORY:
            self.hist[self.hlen] = letter - 32 if is_orig else letter
            self.hlen += 1

    def update(self, int d, double ts, int flags, long long seq, long long ack, long long window,
               long long plen) -> None:
        self.c_update(d, ts, flags, seq, ack, window, plen)

    cdef void c_update(self, int d, double ts, int flags, long long seq, long long ack, long long window,
                       long long plen) noexcept:
        cdef Side* me
        cdef Side* peer
        cdef double rtt
        if d:
            me, peer = &self.s1, &self.s0
        else:
            me, peer = &self.s0, &self.s1
        me.flags |= flags
        if flags & 0x07 or not window or not self.fast:
            self._slow(d, me, peer, ts, flags, seq, ack, window, plen)
            return
        if plen:
            if not me.hseen & _H_DATA:
                me.hseen |= _H_DATA
                me.data = True
                self._letter(d == self.orig_dir, b'd')
        elif not me.hseen & _H_ACK:
            me.hseen |= _H_ACK
            self._letter(d == self.orig_dir, b'a')
        if flags & _ACK:
            if peer.probe_ts >= 0 and (ack - peer.probe_end) & _M32 < _HALF:
                rtt = ts - peer.probe_ts
                if rtt >= 0:
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
                    me.probe_end = me.nxt
                    me.probe_ts = ts
            else:
                self._sequence(me, d == self.orig_dir, ts, flags, seq, plen, plen)

    cdef void _slow(self, int d, Side* me, Side* peer, double ts, int flags, long long seq, long long ack,
                    long long window, long long plen) noexcept:
        cdef bint is_orig = d == self.orig_dir
        cdef int syn = flags & _SYN, fin = flags & _FIN, rst = flags & _RST, has_ack = flags & _ACK
        cdef long long span = 0 if rst else plen + (1 if syn else 0) + (1 if fin else 0)
        cdef long long v
        self._history(me, is_orig, syn, fin, rst, has_ack, seq, plen, span)
        if plen:
            me.data = True
        if window == 0 and not rst and peer.state != CLOSED and me.state != RESET:
            me.zero_windows += 1
            if _scaled(me.zero_windows):
                self._letter(is_orig, b'w')
        if syn:
            if is_orig and not has_ack:
                if self.synack_ts < 0:
                    self.syn_ts = ts
            elif not is_orig and has_ack and self.syn_ts >= 0:
                if self.synack_ts < 0:
                    v = <long long>nearbyint((ts - self.syn_ts) * 1e6)
                    self.server_us = v if v > 0 else 0
                if self.client_us < 0:
                    self.synack_ts = ts
        elif is_orig and has_ack and not rst and self.synack_ts >= 0 and self.client_us < 0:
            v = <long long>nearbyint((ts - self.synack_ts) * 1e6)
            self.client_us = v if v > 0 else 0
        if has_ack and not rst:
            if peer.probe_ts >= 0 and _delta(ack, peer.probe_end) >= 0:
                _side_sample(peer, ts - peer.probe_ts)
                peer.probe_ts = -1.0
            if peer.nxt >= 0:
                self._acked(is_orig, peer, ack)
        if me.nxt < 0:
            if not rst:
                me.nxt = (seq + span) & _M32
                if plen and not syn:
                    me.probe_end = me.nxt
                    me.probe_ts = ts
        elif span:
            if seq == me.nxt:
                me.nxt = (seq + span) & _M32
                if plen and me.probe_ts < 0 and not me.hole_missing:
                    me.probe_end = me.nxt
                    me.probe_ts = ts
            elif syn and (seq + 1) & _M32 != me.nxt:
                me.nxt = (seq + span) & _M32
            else:
                self._sequence(me, is_orig, ts, flags, seq, plen, span)
        self._state(me, peer, is_orig, syn, fin, rst, has_ack, plen)
        self.fast = (me.state == ESTABLISHED and peer.state == ESTABLISHED
                     and (self.synack_ts < 0 or self.client_us >= 0))

    cdef void _sequence(self, Side* me, bint is_orig, double ts, int flags, long long seq, long long plen,
                        long long span) noexcept:
        cdef long long delta = _delta(seq, me.nxt)
        cdef long long end = (seq + span) & _M32
        cdef long long lo, hi, left
        if delta > 0:
            if delta >= _JUMP:
                me.nxt = end
                return
            if me.hole_missing:
                me.hole_missing += delta
            else:
                me.hole_lo = me.nxt
                me.hole_missing = delta
            me.hole_hi = seq
            me.nxt = end
            return
        if delta <= -_JUMP:
            return
        if me.hole_missing and _delta(seq, me.hole_hi) < 0 and _delta(end, me.hole_lo) > 0:
            lo = seq if _delta(seq, me.hole_lo) > 0 else me.hole_lo
            hi = end if _delta(end, me.hole_hi) < 0 else me.hole_hi
            left = me.hole_missing - _delta(hi, lo)
            me.hole_missing = left if left > 0 else 0
            me.out_of_order += 1
        else:
            me.rx_packets += 1
            me.rx_bytes += plen if plen < -delta else -delta
            if plen:
                me.rx_payload += 1
                if _scaled(me.rx_payload):
                    self._letter(is_orig, b't')
            if me.probe_ts >= 0 and _delta(seq, me.probe_end) < 0:
                me.probe_ts = -1.0
        if _delta(end, me.nxt) > 0:
            me.nxt = end

    cdef void _acked(self, bint is_orig, Side* peer, long long ack) noexcept:
        cdef long long missing = 0
        cdef long long ahead
        if peer.hole_missing and _delta(ack, peer.hole_hi) >= 0:
            missing = peer.hole_missing
            peer.hole_missing = 0
        ahead = _delta(ack, peer.nxt)
        if 0 < ahead < _JUMP:
            missing += ahead
            peer.nxt = ack & _M32
        if missing:
            peer.gap_bytes += missing
            peer.gaps += 1
            if _scaled(peer.gaps):
                self._letter(not is_orig, b'g')

    cdef void _history(self, Side* me, bint is_orig, int syn, int fin, int rst, int has_ack, long long seq,
                       long long plen, long long span) noexcept:
        cdef int bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        cdef int mask
        cdef char letter
        cdef long long where
        if bits > 1:
            if fin and rst:
                mask, letter = _H_FIN_RST, b'i'
            else:
                mask, letter = _H_MULTI, b'q'
            if not me.hseen & mask:
                me.hseen |= mask
                self._letter(is_orig, letter)
        elif bits == 1:
            if syn:
                letter = b'h' if has_ack else b's'
                if not me.hseen & _H_SYN:
                    me.hseen |= _H_SYN
                    self._letter(is_orig, letter)
                elif seq != me.last_syn:
                    self._letter(is_orig, letter)
                me.last_syn = seq
            elif fin:
                where = (seq + plen) & _M32
                if not me.hseen & _H_FIN:
                    me.hseen |= _H_FIN
                    self._letter(is_orig, b'f')
                elif where != me.last_fin:
                    self._letter(is_orig, b'f')
                me.last_fin = where
            else:
                if not me.hseen & _H_RST:
                    me.hseen |= _H_RST
                    self._letter(is_orig, b'r')
                elif seq != me.last_rst:
                    self._letter(is_orig, b'r')
                me.last_rst = seq
        elif plen:
            if not me.hseen & _H_DATA:
                me.hseen |= _H_DATA
                self._letter(is_orig, b'd')
        elif has_ack and not me.hseen & _H_ACK:
            me.hseen |= _H_ACK
            self._letter(is_orig, b'a')

    cdef void _state(self, Side* me, Side* peer, bint is_orig, int syn, int fin, int rst, int has_ack,
                     long long plen) noexcept:
        cdef int state = me.state
        cdef Side* orig
        if state == INACTIVE:
            if syn:
                if is_orig:
                    _side_set(me, SYN_ACK_SENT if has_ack else SYN_SENT)
                else:
                    if peer.state == SYN_SENT:
                        _side_set(peer, ESTABLISHED)
                    _side_set(me, ESTABLISHED)
            if fin:
                _side_set(me, CLOSED)
            if rst:
                _side_set(me, RESET)
            if me.state == INACTIVE:
                orig = peer if not is_orig else me
                if not is_orig and plen == 0 and orig.state == SYN_SENT:
                    pass
                elif has_ack and peer.state == ESTABLISHED:
                    _side_set(me, ESTABLISHED)
                else:
                    _side_set(me, PARTIAL)
        elif state == SYN_SENT or state == SYN_ACK_SENT:
            if fin:
                _side_set(me, CLOSED)
            if rst:
                _side_set(me, RESET)
        elif state == ESTABLISHED or state == PARTIAL:
            if syn and state == PARTIAL and peer.state == INACTIVE and not has_ack:
                _side_set(me, SYN_SENT)
            if fin and not rst:
                _side_set(me, CLOSED)
                if peer.state == RESET and peer.prev == CLOSED:
                    _side_set(peer, CLOSED)
            if rst:
                _side_set(me, RESET)
        elif state == CLOSED and rst and peer.state != CLOSED:
            _side_set(me, RESET)

    # --- reporting -----------------------------------------------------------------------------------

    cpdef str connection_state(self):
        cdef Side* orig
        cdef Side* resp
        if self.orig_dir == 0:
            orig, resp = &self.s0, &self.s1
        else:
            orig, resp = &self.s1, &self.s0
        cdef int os = orig.state, rs = resp.state
        cdef bint o_inactive = os == INACTIVE or os == PARTIAL
        cdef bint r_inactive = rs == INACTIVE or rs == PARTIAL
        if rs == RESET:
            if os == SYN_SENT or os == SYN_ACK_SENT or (os == RESET and not orig.data and not resp.data):
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

    cpdef dict rtt_fields(self):
        cdef Rtt r
        _rtt(self, &r)
        out = {"samples": r.samples}
        if r.server_us >= 0:
            out["server_us"] = r.server_us
            if r.client_us >= 0:
                out["handshake_us"] = r.server_us + r.client_us
        if r.client_us >= 0:
            out["client_us"] = r.client_us
        if r.averaged:
            out["mean_us"] = round(r.mean * 1e6)
            out["stddev_us"] = round(_sqrt(r.variance) * 1e6)
        return out

    def fields(self, bint final) -> dict:
        return {
            "connection_state": self.connection_state(),
            "history": self.hist[:self.hlen].decode("ascii"),
            "rtt": self.rtt_fields(),
            "source": _side_fields(&self.s0, self.s0.hole_missing if final else 0),
            "destination": _side_fields(&self.s1, self.s1.hole_missing if final else 0),
        }


cdef void _rtt(TcpHealth t, Rtt* r) noexcept:
    """The RTT figures of TcpHealth.rtt_fields (tcp_health.TcpHealth.rtt_fields' arithmetic)."""
    cdef Side* orig
    cdef Side* resp
    cdef double half
    if t.orig_dir == 0:
        orig, resp = &t.s0, &t.s1
    else:
        orig, resp = &t.s1, &t.s0
    r.server_us = t.server_us
    r.client_us = t.client_us
    r.samples = orig.n + resp.n
    r.averaged = r.samples and (orig.n or r.server_us >= 0) and (resp.n or r.client_us >= 0)
    r.mean = r.variance = 0.0
    if not r.averaged:
        return
    if orig.n:
        half = orig.total / orig.n
        r.mean = half
        r.variance = max(0.0, orig.squares / orig.n - half * half)
    else:
        r.mean = r.server_us * 1e-6
    if resp.n:
        half = resp.total / resp.n
        r.mean += half
        r.variance += max(0.0, resp.squares / resp.n - half * half)
    else:
        r.mean += r.client_us * 1e-6
