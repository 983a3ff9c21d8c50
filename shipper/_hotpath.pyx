# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=False, initializedcheck=False
"""The compiled per-packet work (packetshipper._hotpath): the engine's fast path, TCP health, and the
worker share of a batch. Each function gives exactly what its Python reference gives:

- `process_batch(engine, buf, meta)`: `engine.Engine.process_batch`, step for step;
- `TcpHealth`: `tcp_health.TcpHealth`;
- `flow_event(...)`: `modules/flows/event.flow_event` (see _flow_event.pxi);
- `select_share(buf, meta, linktype, index, count)`: `sharing.select`;
- `http_head(block, head_class, no_tokens, framing)`: `modules/http/head.parse_head` for its common shape (see
  _http_head.pxi).

`hotpath.py` loads this module (or says, once, why the pure-Python path runs instead).
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.math cimport sqrt as _sqrt
from libc.stdint cimport uint32_t
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy, memset

from packetshipper.tcp_health import _FLAG_LISTS, _RSTOS0

include "_tcp_health.pxi"
include "_flow_ids.pxi"
include "_flow_event.pxi"
include "_flow_json.pxi"
include "_icmp_fast.pxi"
include "_txn_event.pxi"
include "_txn_json.pxi"
include "_connection.pxi"
include "_dns_parse.pxi"
include "_pcap_records.pxi"
include "_encoded_event.pxi"
include "_write_lines.pxi"
include "_http_head.pxi"

_round = round  # Python's round (half to even on ints it returns), never C's

ctypedef packed struct Record:  # capture.META: "=IIII"
    uint32_t sec
    uint32_t usec
    uint32_t off
    uint32_t caplen


cdef inline Py_ssize_t _records(const unsigned char[::1] meta) except -1:
    if meta.shape[0] % sizeof(Record):
        raise ValueError("batch index is not a whole number of records")
    return meta.shape[0] // sizeof(Record)


cdef inline void _check(const Record* r, Py_ssize_t size) except *:
    if <Py_ssize_t>r.off + <Py_ssize_t>r.caplen > size:
        raise ValueError(f"batch record at offset {r.off} ({r.caplen} bytes) lies past the buffer's end")


cdef inline bytes _slice(const unsigned char* p, Py_ssize_t start, Py_ssize_t stop):
    return PyBytes_FromStringAndSize(<const char*>p + start, stop - start)


# --- flows ---------------------------------------------------------------------------------------------

cdef class FlowCounters:
    """The fields of `flows.Flow`: with the compiled hot path `Flow` derives from this (and adds none), so
    the fast path updates a flow's numbers as C numbers and makes a new flow without running `__init__`
    (`_new_flow`). The meaning of each field is Flow's."""

    cdef public long long packets0, bytes0, packets1, bytes1
    cdef public double last
    cdef public bint closed
    cdef public object tcp
    cdef public bint ended  # set by FlowTable when the flow ends: FlowIndex entries of it are stale
    cdef public object table_id, key, reverse_key, flow_id, ip_version, src_mac, dst_mac, icmp_type, icmp_code
    cdef public object start, event_cache, event_json, icmp_direction, client_is_source, filtered, processes
    cdef public object _community_id, _community_for


cdef inline void _count(FlowCounters counters, int d, Py_ssize_t caplen, double ts, int flags) noexcept:
    if d:
        counters.packets1 += 1
        counters.bytes1 += caplen
    else:
        counters.packets0 += 1
        counters.bytes0 += caplen
    counters.last = ts
    if flags & 0x05:
        counters.closed = True


ctypedef struct Slot:
    PyObject* flow  # a strong reference, or NULL
    uint64_t hash
    int vlan  # -1: untagged
    unsigned char proto
    unsigned char keylen
    unsigned char direction
    unsigned char key[36]


cdef inline uint64_t _hash(const unsigned char* key, Py_ssize_t n, int vlan, int proto) noexcept nogil:
    """The index hash of a key (12 or 36 bytes; any length works): eight bytes a step, multiplied and
    folded, then murmur3's finalizer, so the low bits (the slot) depend on every byte."""
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>(vlan + 2) ^ (<uint64_t>proto << 16) ^ (<uint64_t>n << 24)
    cdef uint64_t word
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&word, key + i, 8)
        h = (h ^ word) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
        i += 8
    if i < n:
        word = 0
        memcpy(&word, key + i, n - i)
        h = (h ^ word) * 0xFF51AFD7ED558CCDULL
    h ^= h >> 33
    h *= 0xC4CEB9FE1A85EC53ULL
    return h ^ (h >> 33)


cdef inline bint _holds(Slot* slot, uint64_t h, const unsigned char* key, Py_ssize_t n, int vlan,
                        int proto) noexcept:
    return (slot.flow != NULL and slot.hash == h and slot.keylen == n and slot.vlan == vlan
            and slot.proto == proto and memcmp(slot.key, key, n) == 0)


cdef extern from *:
    void __builtin_prefetch(const void* address) nogil

cdef extern from "<sys/mman.h>" nogil:
    void* mmap(void* address, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* address, size_t length)
    int madvise(void* address, size_t length, int advice)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MADV_HUGEPAGE
    void* MAP_FAILED

DEF _HUGE_PAGE = 2097152

DEF _AHEAD = 6  # packets between prefetching a record's index slot and using it
DEF _RING = 8


cdef inline uint64_t _key_hash(const unsigned char* p, const Record* r, Py_ssize_t size, int l3,
                               Py_ssize_t min_fast, bint ethernet) noexcept nogil:
    """The index hash of a record's flow key when it looks like the fast path's TCP/UDP (0 if not): only
    a guess to prefetch by, so checks are lighter than the loop's, but every read stays in the frame (a
    record past the buffer is the loop's to report when it gets there)."""
    cdef Py_ssize_t off = r.off, caplen = r.caplen, q, ip
    cdef int ethertype, vlan = -1, proto
    if caplen < min_fast + 20 or off + caplen > size:
        return 0
    q = off + l3 - 2
    ethertype = p[q] << 8 | p[q + 1]
    if ethertype == 0x8100 and ethernet:
        vlan = (p[q + 2] & 0x0F) << 8 | p[q + 3]
        q += 4
        ethertype = p[q] << 8 | p[q + 1]
    ip = q + 2
    if ethertype == 0x0800 and p[ip] == 0x45:
        proto = p[ip + 9]
        if proto == 6 or proto == 17:
            return _hash(p + ip + 12, 12, vlan, proto)
    elif ethertype == 0x86DD and ip + 44 <= off + caplen:
        proto = p[ip + 6]
        if proto == 6 or proto == 17:
            return _hash(p + ip + 8, 36, vlan, proto)
    return 0


cdef class FlowIndex:
    """A direct-mapped cache in front of the flow table's dicts for the fast path's keys: a hit gives
    the flow and the direction from the header bytes, with no key object and no dict lookup. The dicts
    stay the truth (a miss asks them); an entry of a flow that ended is never used. Its size follows
    `max_flows` (two keys a flow), at most 2**19 slots of 64 bytes (32 MB), in pairs (two-way: a pair
    that three live keys share keeps evicting one of them, so the table has room for twice the keys)."""

    cdef Slot* slots
    cdef uint64_t mask
    cdef size_t length

    def __cinit__(self, Py_ssize_t max_flows):
        cdef uint64_t size = 1024
        while size < 2 * <uint64_t>max_flows and size < (1 << 19):
            size <<= 1
        cdef size_t length = size * sizeof(Slot)
        # Anonymous memory comes zeroed (every slot empty) and is faulted in as flows land in it: nothing
        # is paid up front for a table most of which a small capture never touches.
        cdef void* memory = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if memory == MAP_FAILED:
            raise MemoryError()
        # Lookups land anywhere in up to 32 MB: on 4 KB pages nearly each one misses the TLB too, so the
        # table asks for transparent huge pages (a hint: without them it works the same, slower).
        if length >= _HUGE_PAGE:
            madvise(memory, length, MADV_HUGEPAGE)
        self.slots = <Slot*>memory
        self.length = length
        self.mask = size - 1

    def __dealloc__(self):
        cdef uint64_t i
        if self.slots != NULL:
            for i in range(self.mask + 1):
                Py_XDECREF(self.slots[i].flow)
            munmap(self.slots, self.length)

    cdef inline Slot* find(self, uint64_t h, const unsigned char* key, Py_ssize_t n, int vlan,
                           int proto) noexcept:
        cdef Slot* slot = &self.slots[h & self.mask]
        if not _holds(slot, h, key, n, vlan, proto):
            slot = &self.slots[(h & self.mask) ^ 1]  # two ways: the pair shares a cache line pair
            if not _holds(slot, h, key, n, vlan, proto):
                return NULL
        if (<FlowCounters>slot.flow).ended:
            Py_XDECREF(slot.flow)
            slot.flow = NULL
            return NULL
        return slot

    cdef inline void prefetch_slot(self, uint64_t h) noexcept:
        __builtin_prefetch(&self.slots[h & self.mask & ~(<uint64_t>1)])
        __builtin_prefetch(&self.slots[(h & self.mask) | 1])

    cdef inline PyObject* cached(self, uint64_t h) noexcept:
        """The flow a slot of this hash holds (not checked further: for prefetching only), or NULL."""
        cdef Slot* slot = &self.slots[h & self.mask]
        if slot.flow != NULL and slot.hash == h:
            return slot.flow
        slot = &self.slots[(h & self.mask) ^ 1]
        if slot.flow != NULL and slot.hash == h:
            return slot.flow
        return NULL

    cdef inline void store(self, uint64_t h, const unsigned char* key, Py_ssize_t n, int vlan, int proto,
                           object flow, int direction) noexcept:
        cdef Slot* slot = &self.slots[h & self.mask]
        if slot.flow != NULL and not (<FlowCounters>slot.flow).ended:
            slot = &self.slots[(h & self.mask) ^ 1]  # the first way keeps what it holds; the second turns over
        Py_INCREF(flow)
        Py_XDECREF(slot.flow)
        slot.flow = <PyObject*>flow
        slot.hash = h
        slot.keylen = n
        slot.vlan = vlan
        slot.proto = proto
        slot.direction = direction
        memcpy(slot.key, key, n)


# --- the engine's fast path ----------------------------------------------------------------------------

_NO_MACS = (None, None)


def process_batch(engine, buf, meta) -> None:
    """`Engine.process_batch`, compiled: the same flows, TCP health and hand-offs, in the same order."""
    cdef const unsigned char[::1] view = buf
    cdef const unsigned char[::1] mview = meta
    cdef const unsigned char* p = &view[0] if view.shape[0] else NULL
    cdef Py_ssize_t size = view.shape[0]
    cdef Py_ssize_t n = _records(mview)
    cdef const Record* records = <const Record*>&mview[0] if n else NULL
    cdef const Record* r
    cdef Py_ssize_t i, off, caplen, q, ip, l4, end, a, alen, slow = 0
    cdef long long total_bytes = 0
    cdef int ethertype, vihl, proto, flags, sport, dport, vlan
    cdef Py_ssize_t klen
    cdef FlowCounters counters
    cdef uint64_t h
    cdef Slot* slot
    cdef FlowIndex index = engine._flow_index
    cdef uint64_t ahead[_RING]
    cdef PyObject* cached
    cdef Py_ssize_t j
    cdef double ts = 0.0, deadline
    cdef int l3 = engine._l3
    cdef Py_ssize_t min_fast = l3 + 28 if l3 >= 0 else (1 << 30)
    cdef bint ethernet = engine.decoder.linktype == 1

    flows = engine.flows
    health = flows is not None and flows.tcp_health
    tcp_table = flows.table(((), 6, -1)) if flows is not None else {}
    udp_table = flows.table(((), 17, -1)) if flows is not None else {}
    tcp_ports, udp_ports = engine._tcp_ports, engine._udp_ports
    dispatching = engine.dispatcher is not None
    detector = engine._detector
    detecting = detector is not None
    rejected = detector.rejected if detector is not None else {}
    dispatch_fast = engine._dispatch_fast
    # Segments of TCP connections the dispatcher's table holds: TcpTable.segment's steps here, without
    # the Python frames of _dispatch_fast and segment (see _known_tcp).
    cdef dict tcp_conns = None
    tcp_deliver = tcp_segment = tcp_new_syn = None
    cdef Py_ssize_t known = 0  # segments and datagrams of known flows: engine.dispatched
    cdef Py_ssize_t doff
    cdef int tflags
    udp_known = None  # the dispatcher's udp_datagram: called from here, as _dispatch_fast would
    dispatch_datagram = engine._dispatch_datagram
    cdef Py_ssize_t ulen
    if dispatching:
        tcp_conns, tcp_deliver, tcp_segment, tcp_new_syn = _known_tcp(engine)
        udp_known = engine._known_datagram
    slow_packet = engine._slow_packet
    icmp_fast = engine._icmp_fast
    cdef bint wants_icmp = engine._wants_icmp
    cdef dict icmp_table = None, icmp6_table = None  # made when their first packet comes, as the reference does
    new_health = engine._new_health
    cdef bint twin = flows is not None and _creates_flows(flows)
    deadline = engine._next_deadline
    if index is not None:
        for j in range(_AHEAD if _AHEAD < n else n):
            ahead[j % _RING] = _key_hash(p, &records[j], size, l3, min_fast, ethernet)
            if ahead[j % _RING]:
                index.prefetch_slot(ahead[j % _RING])
    for i in range(n):
        r = &records[i]
        _check(r, size)
        if index is not None:
            # Memory latency, not work, bounds this loop: fetch the index slot of the packet _AHEAD on,
            # the flow of the one 3 on (its slot has arrived), the TCP health of the next (its flow has).
            j = i + _AHEAD
            if j < n:
                ahead[j % _RING] = _key_hash(p, &records[j], size, l3, min_fast, ethernet)
                if ahead[j % _RING]:
                    index.prefetch_slot(ahead[j % _RING])
            j = i + 3
            if j < n and ahead[j % _RING]:
                cached = index.cached(ahead[j % _RING])
                if cached != NULL:
                    __builtin_prefetch(cached)
                    __builtin_prefetch(<char*>cached + 64)
            j = i + 1
            if j < n and ahead[j % _RING]:
                cached = index.cached(ahead[j % _RING])
                if cached != NULL and (<FlowCounters>cached).tcp is not None:
                    _prefetch_health((<FlowCounters>cached).tcp)
        off = r.off
        caplen = r.caplen
        total_bytes += caplen
        ts = r.sec + r.usec * 1e-6
        if ts >= deadline:
            engine.advance(ts)
            deadline = engine._next_deadline
        if caplen >= min_fast:
            q = off + l3 - 2  # the ethertype
            ethertype = p[q] << 8 | p[q + 1]
            vlans = ()
            vlan = -1
            if ethertype == 0x8100 and ethernet and caplen >= min_fast + 4:
                vlan = (p[q + 2] & 0x0F) << 8 | p[q + 3]
                vlans = (vlan,)
                q += 4
                ethertype = p[q] << 8 | p[q + 1]
            ip = q + 2
            vihl = p[ip]
            end = 0
            if ethertype == 0x0800 and vihl == 0x45 and not (p[ip + 6] << 8 | p[ip + 7]) & 0x3FFF:
                proto = p[ip + 9]
                l4 = ip + 20
                end = ip + (p[ip + 2] << 8 | p[ip + 3])
                alen = 4
            elif ethertype == 0x86DD and vihl >> 4 == 6:
                proto = p[ip + 6]
                l4 = ip + 40
                end = l4 + (p[ip + 4] << 8 | p[ip + 5])
                alen = 16
            if end and end <= off + caplen and (
                    (proto == 6 and end - l4 >= 20 and 20 <= (p[l4 + 12] >> 4) * 4 <= end - l4)
                    or (proto == 17 and end - l4 >= 8 and 8 <= (p[l4 + 4] << 8 | p[l4 + 5]) <= end - l4)):
                if flows is not None:
                    a = l4 - 2 * alen
                    flags = p[l4 + 13] if proto == 6 else 0
                    klen = 2 * alen + 4
                    slot = NULL
                    h = 0
                    if index is not None:
                        h = _hash(p + a, klen, vlan, proto)
                        slot = index.find(h, p + a, klen, vlan, proto)
                    if slot != NULL and not (flags & 0x02 and (<FlowCounters>slot.flow).closed):
                        counters = <FlowCounters>slot.flow
                        _count(counters, slot.direction, caplen, ts, flags)
                        if proto == 6 and counters.tcp is not None:
                            _health(counters.tcp, slot.direction, ts, flags, p, l4, end)
                    else:
                        _account(flows, index, h, p, off, caplen, ts, a, alen, l4, end, proto, flags, vlans,
                                 tcp_table, udp_table, ethernet, health, new_health, twin)
                if dispatching:
                    sport = p[l4] << 8 | p[l4 + 1]
                    dport = p[l4 + 2] << 8 | p[l4 + 3]
                    if (sport in tcp_ports or dport in tcp_ports) if proto == 6 else (
                            sport in udp_ports or dport in udp_ports):
                        tflags = p[l4 + 13] if proto == 6 else 0
                        if tcp_conns is not None and proto == 6:
                            # TcpTable.segment's steps: a SYN that opens a connection (none known, or a new
                            # one on a known connection's ports) goes on to dispatch_fast, as segment's False.
                            key = _slice(p, l4 - 2 * alen, l4 + 4)
                            entry = tcp_conns.get(key)
                            if entry is not None:
                                conn = (<tuple>entry)[0]
                                d = (<tuple>entry)[1]
                                if not (tflags & 0x02 and tcp_new_syn(entry, _u32(p, l4 + 4))):
                                    conn.last_seen = ts
                                    doff = (p[l4 + 12] >> 4) * 4
                                    if end - l4 - doff or tflags & 0x07 or conn.streams[d].fin_seq is not None:
                                        tcp_deliver(conn, d, ts, tflags, _u32(p, l4 + 4), _slice(p, l4 + doff, end))
                                    known += 1
                                    continue
                            elif not tflags & 0x02:  # a closed connection's, or no tracked one's
                                doff = (p[l4 + 12] >> 4) * 4
                                if tcp_segment(key, ts, tflags, _u32(p, l4 + 4), _slice(p, l4 + doff, end)):
                                    known += 1
                                    continue
                        elif proto == 17 and udp_known is not None:
                            ulen = p[l4 + 4] << 8 | p[l4 + 5]
                            payload = _slice(p, l4 + 8, l4 + ulen)
                            if udp_known(_slice(p, l4 - 2 * alen, l4 + 4), ts, sport, dport, payload):
                                known += 1
                            else:
                                dispatch_datagram(buf, off, caplen, ts, l4, alen, sport, dport, vlans, ethernet,
                                                  payload)
                            continue
                        dispatch_fast(buf, off, caplen, ts, l4, end, proto, alen, sport, dport, vlans, ethernet)
                    elif detecting:
                        key = _slice(p, l4 - 2 * alen, l4 + 4)
                        if key not in rejected or (proto == 6 and p[l4 + 13] & 0x02 and detector.forget(key)):
                            dispatch_fast(buf, off, caplen, ts, l4, end, proto, alen, sport, dport, vlans, ethernet)
                continue
            if end and (proto == 1 or proto == 58) and end - l4 >= 8 and end <= off + caplen:
                if flows is not None and not wants_icmp:
                    if vlans:
                        table = flows.table((vlans, proto, -1))
                    elif proto == 1:
                        if icmp_table is None:
                            icmp_table = flows.table(((), 1, -1))
                        table = icmp_table
                    else:
                        if icmp6_table is None:
                            icmp6_table = flows.table(((), 58, -1))
                        table = icmp6_table
                    _icmp_flow(flows, table, p, off, caplen, ts, l4, alen, proto, vlans, ethernet)
                else:
                    icmp_fast(buf, off, caplen, ts, l4, end, proto, alen, vlans, ethernet)
                continue
        slow += 1
        slow_packet(buf, off, caplen, ts)
    engine.received += n
    if known:
        engine.dispatched += known
    engine.bytes += total_bytes
    engine.fast_path += n - slow
    if n:
        engine.last_ts = ts


cdef object _tcp_segment = None  # tcp.TcpTable.segment, once imported


cdef tuple _known_tcp(engine):
    """(the connection table, its _deliver, segment and _is_new_connection) of the engine's TCP table when
    the engine's known-segment hand-off is TcpTable.segment itself, whose steps process_batch then takes;
    four Nones for any other dispatcher."""
    global _tcp_segment
    if _tcp_segment is None:  # imported here: tcp.py imports (indirectly) this module
        from packetshipper.tcp import TcpTable
        _tcp_segment = TcpTable.segment
    known = engine._known_segment
    if known is None or getattr(known, "__func__", None) is not _tcp_segment:
        return None, None, None, None
    tcp = known.__self__
    if type(tcp.table) is not dict:
        return None, None, None, None
    return tcp.table, tcp._deliver, known, tcp._is_new_connection


cdef void _account(flows, FlowIndex index, uint64_t h, const unsigned char* p, Py_ssize_t off, Py_ssize_t caplen,
                   double ts, Py_ssize_t a, Py_ssize_t alen, Py_ssize_t l4, Py_ssize_t end, int proto, int flags,
                   tuple vlans, dict tcp_table, dict udp_table, bint ethernet, bint health, new_health,
                   bint twin) except *:
    """A packet of the fast path's shape that the index did not place: the flow table's dicts decide, as
    in the pure path; a flow found there goes into the index. A new flow is made by `_create` (`twin`)
    or by FlowTable.update."""
    cdef unsigned char rev[36]
    cdef int d, vlan
    cdef uint64_t rh
    cdef Py_ssize_t klen = 2 * alen + 4
    key = _slice(p, a, l4 + 4)
    if vlans:
        table = flows.table((vlans, proto, -1))
    else:
        table = tcp_table if proto == 6 else udp_table
    entry = table.get(key)
    if entry is None or (flags & 0x02 and (<tuple>entry)[0].closed):
        memcpy(rev, p + a + alen, alen)
        memcpy(rev + alen, p + a, alen)
        memcpy(rev + 2 * alen, p + l4 + 2, 2)
        memcpy(rev + 2 * alen + 2, p + l4, 2)
        reverse = PyBytes_FromStringAndSize(<const char*>rev, klen)
        vlan = vlans[0] if vlans else -1
        rh = 0
        if index is not None:
            rh = _hash(rev, klen, vlan, proto)
            index.prefetch_slot(rh)  # stored below, once the flow is made: its slot has arrived by then
        if ethernet:
            macs = (_slice(p, off + 6, off + 12), _slice(p, off, off + 6))
        else:
            macs = _NO_MACS
        created = flows.created
        if entry is None and twin:
            flow = _create(flows, table, (vlans, proto, -1), key, reverse, 4 if alen == 4 else 6, ts, caplen, flags,
                           macs[0], macs[1], p[l4] << 8 | p[l4 + 1], p[l4 + 2] << 8 | p[l4 + 3])
        else:
            flow = flows.update((vlans, proto, -1), key, reverse, 4 if alen == 4 else 6, ts, caplen, flags, macs[0],
                                macs[1])
        if index is not None and flows.created != created and isinstance(flow, FlowCounters):
            # A new flow: index both directions now, or its next packet each way asks the dicts again.
            if memcmp(rev, p + a, klen):  # a flow to itself keeps the key's direction 0 (the table's)
                index.store(rh, rev, klen, vlan, proto, flow, 1)
            index.store(h, p + a, klen, vlan, proto, flow, 0)
        if health and proto == 6 and flow is not None:
            tcp = flow.tcp
            if tcp is None:
                tcp = flow.tcp = new_health(flow.client_is_source)
            _health(tcp, 0 if key == flow.key else 1, ts, flags, p, l4, end)
        return
    flow = (<tuple>entry)[0]
    d = (<tuple>entry)[1]
    if isinstance(flow, FlowCounters):
        if index is not None:
            index.store(h, p + a, klen, vlans[0] if vlans else -1, proto, flow, d)
        _count(<FlowCounters>flow, d, caplen, ts, flags)
        tcp = (<FlowCounters>flow).tcp if proto == 6 else None
    else:  # a pure-Python Flow (the flows module was imported with the compiled path off)
        if d:
            flow.packets1 += 1
            flow.bytes1 += caplen
        else:
            flow.packets0 += 1
            flow.bytes0 += caplen
        flow.last = ts
        if flags & 0x05:
            flow.closed = True
        tcp = flow.tcp if proto == 6 else None
    if tcp is not None:
        _health(tcp, d, ts, flags, p, l4, end)


cdef object _Flow = None  # flows.Flow and flows.FlowTable.update, once imported
cdef object _table_update = None
cdef object _id_prefix = None  # flows.id_prefix
cdef dict _id_prefixes = None  # the table id -> prefix memo it keeps (flows._ID_PREFIX)


cdef int _import_flows() except -1:
    global _Flow, _table_update, _id_prefix, _id_prefixes
    if _Flow is None:  # imported here: flows.py imports this module
        from packetshipper.flows import _ID_PREFIX, Flow, FlowTable, id_prefix
        _Flow, _table_update, _id_prefix, _id_prefixes = Flow, FlowTable.update, id_prefix, _ID_PREFIX
    return 0


cdef inline bytes _prefix_of(tuple table_id):
    """flows.id_prefix(table_id): its memo read here, the function called only for a table id not in it."""
    prefix = _id_prefixes.get(table_id)
    return _id_prefix(table_id) if prefix is None else prefix


cdef bint _client_side(int flags, int sport, int dport, ephemeral) except -1:
    """direction.is_client_side for a connection's first seen packet (its TCP flags, 0 for UDP): keep the
    two alike."""
    if flags & 0x12 == 0x02:  # a SYN: its sender
        return True
    if flags & 0x12 == 0x12:  # a SYN-ACK: its receiver
        return False
    low, high = ephemeral
    cdef long long lo = low, hi = high
    return not (lo <= dport <= hi and not lo <= sport <= hi)


cdef bint _creates_flows(flows) except -1:
    """Whether `_create` may stand in for `flows.update` (a FlowTable's own, with compiled counters)."""
    _import_flows()
    return type(flows).update is _table_update and issubclass(_Flow, FlowCounters)


cdef FlowCounters _new_flow(tuple table_id, bytes key, bytes reverse, int ip_version, double ts, src_mac,
                            dst_mac):
    """Flow(table_id, key, reverse, ip_version, ts, src_mac, dst_mac, -1, -1), its __init__'s steps
    (with the compiled path on) done here, field for field."""
    cdef FlowCounters flow = _Flow.__new__(_Flow)
    flow.table_id = table_id
    flow.key = key
    flow.reverse_key = reverse
    flow.ip_version = ip_version
    flow.src_mac = src_mac
    flow.dst_mac = dst_mac
    flow.icmp_type = -1
    flow.icmp_code = -1
    start = ts
    flow.start = start
    flow.last = ts
    flow.client_is_source = True
    flow.filtered = False
    flow.flow_id = _flow_id(_prefix_of(table_id), table_id, key, start)
    flow.icmp_direction = 0
    return flow


def new_flow(tuple table_id, bytes key, bytes reverse, int ip_version, double ts, src_mac, dst_mac):
    """_new_flow (for tests against Flow(...))."""
    _import_flows()
    return _new_flow(table_id, key, reverse, ip_version, ts, src_mac, dst_mac)


cdef object _create(flows, dict table, tuple table_id, bytes key, bytes reverse, int ip_version, double ts,
                    Py_ssize_t length, int flags, src_mac, dst_mac, int sport, int dport):
    """FlowTable.update for a TCP or UDP packet of no flow the table holds: the same steps, in order."""
    if flows.next_sweep is None:
        flows.start_clock(ts)
    if len(flows._flows) >= flows.max_flows:
        flows.refused += 1
        flows.packets_untracked += 1
        return None
    flow = _new_flow(table_id, key, reverse, ip_version, ts, src_mac, dst_mac)
    if flows._filters:
        flows._filter(flow)
    on_new_flow = flows._on_new_flow
    if on_new_flow is not None:
        on_new_flow(flow)
    flow.client_is_source = _client_side(flags, sport, dport, flows.ephemeral_ports)
    (<dict>flows._flows)[id(flow)] = flow
    table[reverse] = (flow, 1)
    table[key] = (flow, 0)  # after the reverse: a flow to itself counts as one direction
    flows.created += 1
    _count(<FlowCounters>flow, 0, length, ts, flags)
    return flow


cdef inline int _icmp_reply(int proto, int kind) noexcept nogil:
    """flows._ICMP_REPLY_TYPES: the replies of ICMP's request/reply pairs; ICMPv6 echo reply."""
    if proto == 1:
        return kind == 0 or kind == 14 or kind == 16 or kind == 18
    return kind == 129


cdef void _icmp_flow(flows, dict table, const unsigned char* p, Py_ssize_t off, Py_ssize_t caplen, double ts,
                    Py_ssize_t l4, Py_ssize_t alen, int proto, tuple vlans, bint ethernet) except *:
    """Engine._icmp_fast's flow-table step (no module takes ICMP): FlowTable.update, with the packet of a
    known flow accounted here."""
    cdef Py_ssize_t a = l4 - 2 * alen
    cdef unsigned char rev[32]
    cdef int d, kind = p[l4], code = p[l4 + 1]
    key = _slice(p, a, l4)
    entry = table.get(key)
    if entry is None:
        memcpy(rev, p + a + alen, alen)
        memcpy(rev + alen, p + a, alen)
        if ethernet:
            macs = (_slice(p, off + 6, off + 12), _slice(p, off, off + 6))
        else:
            macs = _NO_MACS
        flows.update((vlans, proto, -1), key, PyBytes_FromStringAndSize(<const char*>rev, 2 * alen),
                     4 if alen == 4 else 6, ts, caplen, 0, macs[0], macs[1], kind, code)
        return
    flow = (<tuple>entry)[0]
    d = (<tuple>entry)[1]
    if memcmp(p + a, p + a + alen, alen) == 0:  # a host pinging itself: requests count to the source, replies back
        d = _icmp_reply(proto, kind)
    cdef FlowCounters counters
    if isinstance(flow, FlowCounters):  # its fields set as C struct members, not by attribute lookup
        counters = <FlowCounters>flow
        counters.icmp_type = kind
        counters.icmp_code = code
        counters.icmp_direction = d
        _count(counters, d, caplen, ts, 0)
        return
    flow.icmp_type = kind
    flow.icmp_code = code
    flow.icmp_direction = d
    if d:
        flow.packets1 += 1
        flow.bytes1 += caplen
        flow.last = ts
    else:
        flow.packets0 += 1
        flow.bytes0 += caplen
        flow.last = ts


cdef inline void _prefetch_health(object tcp) noexcept:
    cdef TcpHealth health
    if type(tcp) is TcpHealth:
        health = <TcpHealth>tcp
        __builtin_prefetch(&health.s0)
        __builtin_prefetch(&health.s1)
        __builtin_prefetch(<char*>&health.s1 + 64)


cdef inline void _health(tcp, int d, double ts, int flags, const unsigned char* p, Py_ssize_t l4,
                         Py_ssize_t end) except *:
    """TcpHealth.update with the segment's header fields (the pure class too, should a flow carry one)."""
    cdef long long plen = end - l4 - (p[l4 + 12] >> 4) * 4
    cdef long long seq = _u32(p, l4 + 4), ack = _u32(p, l4 + 8), window = p[l4 + 14] << 8 | p[l4 + 15]
    if type(tcp) is TcpHealth:
        (<TcpHealth>tcp).c_update(d, ts, flags, seq, ack, window, plen)
    else:
        tcp.update(d, ts, flags, seq, ack, window, plen)


cdef inline long long _u32(const unsigned char* p, Py_ssize_t at) noexcept nogil:
    return (<long long>p[at] << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]


# --- the worker share (sharing.select) --------------------------------------------------------------------

cdef uint32_t _CRC[256]


cdef void _crc_table() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = i
        for k in range(8):
            c = (c >> 1) ^ 0xEDB88320U if c & 1 else c >> 1
        _CRC[i] = c


_crc_table()


cdef inline uint32_t _crc32(const unsigned char* data, Py_ssize_t n) noexcept nogil:
    cdef uint32_t c = 0xFFFFFFFFU
    cdef Py_ssize_t i
    for i in range(n):
        c = _CRC[(c ^ data[i]) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFU


cdef inline bint _vlan(int ethertype) noexcept nogil:
    return ethertype == 0x8100 or ethertype == 0x88A8 or ethertype == 0x9100


cdef uint32_t _share(const unsigned char* p, Py_ssize_t off, Py_ssize_t caplen, int linktype) noexcept nogil:
    """sharing.share_of."""
    cdef Py_ssize_t end = off + caplen, ethertype_at, q, ip
    cdef int version = 0, ethertype, tags = 0
    cdef unsigned char pair[32]
    cdef int alen, cmp, k
    if linktype == 1:
        ethertype_at, q = off + 12, off + 14
    elif linktype == 113:
        ethertype_at, q = off + 14, off + 16
    elif linktype == 276:
        ethertype_at, q = off, off + 20
    elif linktype == 0 or linktype == 108:
        q = off + 4
        if q > end:
            return 0
        version = p[q] >> 4 if q < end else 0
        if version != 4 and version != 6:
            return 0
        ethertype_at = -1
    elif linktype == 101 or linktype == 12 or linktype == 14 or linktype == 228 or linktype == 229:
        version = p[off] >> 4 if off < end else 0
        if version != 4 and version != 6:
            return 0
        q = off
        ethertype_at = -1
    else:
        return 0
    if ethertype_at >= 0:
        if q > end:
            return 0
        ethertype = p[ethertype_at] << 8 | p[ethertype_at + 1]
        while _vlan(ethertype) and tags < 2 and q + 4 <= end:
            ethertype = p[q + 2] << 8 | p[q + 3]
            q += 4
            tags += 1
        if ethertype == 0x0800:
            version = 4
        elif ethertype == 0x86DD:
            version = 6
        else:
            return 0
    ip = q
    if version == 4 and ip + 20 <= end:
        alen, q = 4, ip + 12
    elif version == 6 and ip + 40 <= end:
        alen, q = 16, ip + 8
    else:
        return 0
    cmp = 0
    for k in range(alen):
        if p[q + k] != p[q + alen + k]:
            cmp = -1 if p[q + k] < p[q + alen + k] else 1
            break
    if cmp <= 0:
        memcpy(pair, p + q, 2 * alen)
    else:
        memcpy(pair, p + q + alen, alen)
        memcpy(pair + alen, p + q, alen)
    return _crc32(pair, 2 * alen)


def share_of(buf, Py_ssize_t off, Py_ssize_t caplen, int linktype) -> int:
    """sharing.share_of, compiled (for tests)."""
    cdef const unsigned char[::1] view = buf
    if off < 0 or caplen < 0 or off + caplen > view.shape[0]:
        raise ValueError("frame lies outside the buffer")
    if not caplen:
        return 0
    return _share(&view[0], off, caplen, linktype)


def select_share(buf, meta, int linktype, int index, int count) -> bytes:
    """sharing.select: the records of `meta` whose packets belong to worker `index` of `count`."""
    cdef const unsigned char[::1] view = buf
    cdef const unsigned char[::1] mview = meta
    cdef Py_ssize_t n = _records(mview), i, kept = 0
    cdef const Record* records = <const Record*>&mview[0] if n else NULL
    cdef const unsigned char* p = &view[0] if view.shape[0] else NULL
    cdef const Record* r
    cdef long long h, share
    if count == 0 and n:  # as the reference: no record, nothing to divide
        raise ZeroDivisionError("integer modulo by zero")
    out = bytearray(n * sizeof(Record))
    cdef unsigned char[::1] oview = out
    for i in range(n):
        r = &records[i]
        _check(r, view.shape[0])
        h = _share(p, r.off, r.caplen, linktype) if r.caplen else 0
        share = h % count  # cdivision off: Python's sign rule, as the reference
        if share == index:
            memcpy(&oview[kept * sizeof(Record)], r, sizeof(Record))
            kept += 1
    return bytes(out[:kept * sizeof(Record)])


cdef extern from *:
    """
    #if defined(__GLIBC__)
    #include <malloc.h>
    static int packetshipper_tune_malloc(int top_pad, int mmap_threshold) {
        return mallopt(M_TOP_PAD, top_pad) == 1 && mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
    }
    #else
    static int packetshipper_tune_malloc(int top_pad, int mmap_threshold) {
        (void)top_pad; (void)mmap_threshold;
        return 0;  /* another C library: its own defaults */
    }
    #endif
    """
    int packetshipper_tune_malloc(int top_pad, int mmap_threshold) noexcept nogil


def tune_malloc(int top_pad, int mmap_threshold) -> bool:
    """glibc's mallopt(M_TOP_PAD, top_pad) and mallopt(M_MMAP_THRESHOLD, mmap_threshold) (see allocator.py);
    False where the C library is not glibc or refused a value."""
    return packetshipper_tune_malloc(top_pad, mmap_threshold) != 0


def idle_flows(dict flows, double now, double timeout) -> list:
    """[flow for flow in flows.values() if now - flow.last > timeout] (FlowTable._expire's sweep), the
    compiled counters' times read in C."""
    cdef list out = []
    cdef double last
    for flow in flows.values():
        last = (<FlowCounters>flow).last if isinstance(flow, FlowCounters) else flow.last
        if now - last > timeout:
            out.append(flow)
    return out


def mark_ended(list flows) -> None:
    """flows.mark_ended (its twin): each flow ended, its event parts let go, the compiled counters' fields
    set in C."""
    cdef FlowCounters c
    for flow in flows:
        if isinstance(flow, FlowCounters):
            c = <FlowCounters>flow
            c.ended = True
            c.event_cache = None
            c.event_json = None
        else:
            flow.ended = True
            flow.event_cache = flow.event_json = None
