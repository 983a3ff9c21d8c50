# The flow event straight to JSON (included by _hotpath.pyx after _flow_event.pxi): the bytes
# orjson.dumps(flow_event(...)) gives, written from the counters and per-flow JSON fragments, with no
# event dict (modules/flows/event.flow_event_json; the runner queues such documents where nothing
# reads the event before the queue). Tests keep it equal to orjson's encoding of the dict.

from libc.stdlib cimport realloc
from cpython.long cimport PyLong_AsLongLongAndOverflow

import orjson as _orjson

_dumps = _orjson.dumps


cdef struct JBuf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef inline int _jreserve(JBuf* b, Py_ssize_t need) except -1:
    if b.size + need <= b.cap:
        return 0
    return _jgrow(b, need)


cdef int _jgrow(JBuf* b, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap
    cdef char* grown
    cap = b.cap * 2 if b.cap else 2048
    while cap < b.size + need:
        cap *= 2
    grown = <char*>realloc(b.data, cap)
    if grown == NULL:
        raise MemoryError()
    b.data = grown
    b.cap = cap
    return 0


cdef inline int _jput(JBuf* b, const char* s, Py_ssize_t n) except -1:
    _jreserve(b, n)
    memcpy(b.data + b.size, s, n)
    b.size += n
    return 0


cdef inline int _jbytes(JBuf* b, bytes s) except -1:
    return _jput(b, <const char*>s, len(s))


cdef const char* _JPAIRS = (b"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            b"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            b"8081828384858687888990919293949596979899")


@cython.cdivision(True)
cdef int _jint(JBuf* b, long long v) except -1:
    """str(v), two digits at a time."""
    if 0 <= v < 10:  # most counters of a report (retransmissions, gaps, zero windows: none)
        _jreserve(b, 1)
        b.data[b.size] = <char>(48 + v)
        b.size += 1
        return 0
    cdef char digits[24]
    cdef int i = 24
    cdef unsigned long long u = <unsigned long long>0 - <unsigned long long>v if v < 0 else <unsigned long long>v
    cdef unsigned int pair
    while u >= 100:
        pair = <unsigned int>(u % 100) * 2
        u //= 100
        i -= 2
        digits[i] = _JPAIRS[pair]
        digits[i + 1] = _JPAIRS[pair + 1]
    if u >= 10:
        i -= 2
        digits[i] = _JPAIRS[u * 2]
        digits[i + 1] = _JPAIRS[u * 2 + 1]
    else:
        i -= 1
        digits[i] = <char>(48 + u)
    if v < 0:
        i -= 1
        digits[i] = 45  # '-'
    return _jput(b, digits + i, 24 - i)


cdef const char* _JHEX = b"0123456789abcdef"
# 1 for the bytes a JSON string escapes: control characters, quote and backslash.
cdef unsigned char _JESCAPE[256]
memset(_JESCAPE, 0, 256)
memset(_JESCAPE, 1, 0x20)
_JESCAPE[34] = 1
_JESCAPE[92] = 1


cdef int _jstr(JBuf* b, str s) except -1:
    """A JSON string as orjson writes it: quote, backslash and control characters escaped, the rest
    as UTF-8."""
    cdef Py_ssize_t n, i, clean = 0
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_AsUTF8AndSize(s, &n)
    cdef unsigned char c
    # Most strings (addresses, names, paths) need no escape: find the first byte that does, copy up to it.
    while clean < n and not _JESCAPE[p[clean]]:
        clean += 1
    if clean == n:
        _jreserve(b, n + 2)
        b.data[b.size] = 34
        memcpy(b.data + b.size + 1, p, n)
        b.data[b.size + 1 + n] = 34
        b.size += n + 2
        return 0
    _jreserve(b, clean + 6 * (n - clean) + 2)
    cdef char* out = b.data + b.size  # a local cursor: writes through b.data could alias b.size
    out[0] = 34
    memcpy(out + 1, p, clean)
    out += 1 + clean
    for i in range(clean, n):
        c = p[i]
        if not _JESCAPE[c]:
            out[0] = <char>c
            out += 1
        elif c == 34 or c == 92:
            out[0] = 92
            out[1] = <char>c
            out += 2
        elif c == 10 or c == 9 or c == 13 or c == 8 or c == 12:
            out[0] = 92
            out[1] = b'n' if c == 10 else b't' if c == 9 else b'r' if c == 13 else b'b' if c == 8 else b'f'
            out += 2
        else:
            memcpy(out, b"\\u00", 4)
            out[4] = _JHEX[c >> 4]
            out[5] = _JHEX[c & 15]
            out += 6
    out[0] = 34
    b.size = out + 1 - b.data
    return 0


cdef int _jvalue(JBuf* b, value) except -1:
    """Any JSON value: str, int, bool, None, dicts with str keys and lists here; the rest through orjson."""
    cdef int overflow
    cdef long long v
    cdef bint first
    if type(value) is str:
        return _jstr(b, <str>value)
    if value is True:
        return _jput(b, "true", 4)
    if value is False:
        return _jput(b, "false", 5)
    if value is None:
        return _jput(b, "null", 4)
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if not overflow:
            return _jint(b, v)
    elif type(value) is dict:
        _jput(b, "{", 1)
        first = True
        for key, item in (<dict>value).items():
            if type(key) is not str:
                return _jbytes(b, _dumps(value))  # orjson's answer (its error) for the whole dict
            if not first:
                _jput(b, ",", 1)
            first = False
            _jstr(b, <str>key)
            _jput(b, ":", 1)
            _jvalue(b, item)
        return _jput(b, "}", 1)
    elif type(value) is list:
        _jput(b, "[", 1)
        first = True
        for item in <list>value:
            if not first:
                _jput(b, ",", 1)
            first = False
            _jvalue(b, item)
        return _jput(b, "]", 1)
    return _jbytes(b, _dumps(value))


cdef inline int _jopen(JBuf* b, bytes prefix) except -1:
    """A cached object's members (`{...` without its `}`), then a comma if it had any."""
    _jbytes(b, prefix)
    if len(prefix) > 1:
        _jput(b, ",", 1)
    return 0


cdef bytes _jprefix(dict members):
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        _jvalue(&b, members)
        return PyBytes_FromStringAndSize(b.data, b.size - 1)  # without the closing brace
    finally:
        free(b.data)


cdef int _jmac(JBuf* b, bytes mac) except -1:
    """format_mac(mac) as a JSON string."""
    cdef Py_ssize_t n = len(mac), i
    cdef const unsigned char* p = mac
    _jreserve(b, 3 * n + 2)
    b.data[b.size] = 34
    b.size += 1
    for i in range(n):
        if i:
            b.data[b.size] = 45  # '-'
            b.size += 1
        b.data[b.size] = _HEX[p[i] >> 4]
        b.data[b.size + 1] = _HEX[p[i] & 15]
        b.size += 2
    b.data[b.size] = 34
    b.size += 1
    return 0


cdef int _jiso(JBuf* b, double ts, reference) except -1:
    """iso_timestamp(ts) as a JSON string."""
    _jreserve(b, 29)
    if not _iso_text(ts, b.data + b.size + 1):
        return _jstr(b, reference(ts))
    b.data[b.size] = 34
    b.data[b.size + 28] = 34
    b.size += 29
    return 0


cdef int _jaddress(JBuf* b, const unsigned char* p, Py_ssize_t n) except -1:
    """format_ip of an address's bytes as a JSON string (IPv4 written here, IPv6 by inet_ntop)."""
    cdef int i, v
    if n != 4:
        return _jstr(b, _address(p, n))
    _jreserve(b, 17)
    b.data[b.size] = 34
    b.size += 1
    for i in range(4):
        if i:
            b.data[b.size] = 46  # '.'
            b.size += 1
        v = p[i]
        if v >= 100:
            b.data[b.size] = <char>(48 + v // 100)
            b.size += 1
        if v >= 10:
            b.data[b.size] = <char>(48 + v // 10 % 10)
            b.size += 1
        b.data[b.size] = <char>(48 + v % 10)
        b.size += 1
    b.data[b.size] = 34
    b.size += 1
    return 0


cdef bytes _jtake(JBuf* b):
    """The buffer's bytes so far; the buffer starts again empty (its memory kept)."""
    out = PyBytes_FromStringAndSize(b.data, b.size)
    b.size = 0
    return out


cdef object _direct_fragments(flow):
    """The fragments of `_fragments` written from the flow's key and fields, for the shapes the fast
    path makes (static_parts' dicts, member for member); None for any other (the dicts decide)."""
    if not isinstance(flow, FlowCounters):
        return None
    cdef FlowCounters c = <FlowCounters>flow  # its fields read as C struct members
    cdef int ip_version = c.ip_version
    key = c.key
    if type(key) is not bytes or (ip_version != 4 and ip_version != 6):
        return None
    cdef Py_ssize_t n = 4 if ip_version == 4 else 16, klen = len(<bytes>key)
    if klen != 2 * n and klen != 2 * n + 4:
        return None
    cdef tuple table_id = c.table_id
    vlans, proto_object, flow_id = table_id[0], table_id[1], c.flow_id
    if (type(vlans) is not tuple or len(<tuple>vlans) > 1 or (vlans and type((<tuple>vlans)[0]) is not int)
            or type(proto_object) is not int or not 0 <= proto_object <= 255 or type(flow_id) is not str):
        return None
    cdef int proto = proto_object
    src_mac, dst_mac = c.src_mac, c.dst_mac
    cdef bint macs = src_mac is not None and dst_mac is not None
    if macs and (type(src_mac) is not bytes or type(dst_mac) is not bytes):
        return None
    cdef const unsigned char* p = <bytes>key
    cdef int sport = 0, dport = 0
    if klen == 2 * n + 4:
        sport = p[2 * n] << 8 | p[2 * n + 1]
        dport = p[2 * n + 2] << 8 | p[2 * n + 3]
    cdef bint icmp = c.icmp_type >= 0
    if not icmp and (proto == 1 or proto == 58) and (sport > 255 or dport > 255):
        return None  # Community ID's own answer for that (the reference asks it)
    cdef bint ports = proto == 6 or proto == 17 or proto == 132
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        _jput(&b, '{"ip":', 6)
        _jaddress(&b, p, n)
        if ports:
            _jput(&b, ',"port":', 8)
            _jint(&b, sport)
        if macs:
            _jput(&b, ',"mac":', 7)
            _jmac(&b, <bytes>src_mac)
        source = _jtake(&b)
        _jput(&b, '{"ip":', 6)
        _jaddress(&b, p + n, n)
        if ports:
            _jput(&b, ',"port":', 8)
            _jint(&b, dport)
        if macs:
            _jput(&b, ',"mac":', 7)
            _jmac(&b, <bytes>dst_mac)
        destination = _jtake(&b)
        _jput(&b, '{"type":"ipv4"' if ip_version == 4 else '{"type":"ipv6"', 14)
        transport = _TRANSPORT_NAMES.get(proto)
        if transport is not None:
            _jput(&b, ',"transport":', 13)
            _jstr(&b, transport)
        else:
            _jput(&b, ',"iana_number":"', 16)
            _jint(&b, proto)
            _jput(&b, '"', 1)
        network = _jtake(&b)
        _jput(&b, '{"id":', 6)
        _jstr(&b, <str>flow_id)
        if vlans:
            _jput(&b, ',"vlan":', 8)
            _jvalue(&b, (<tuple>vlans)[0])
        flow_fields = _jtake(&b)
        _jiso(&b, c.start, _iso_reference)
        start = _jtake(&b)
        community = None if icmp else _community_member(&b, _community(proto, p, p + n, n, sport, dport))
    finally:
        free(b.data)
    return source, destination, network, flow_fields, start, community


cdef object _iso_reference = None  # event.iso_timestamp, for the instants _iso leaves to it
cdef object _TRANSPORT_NAMES = None


cdef tuple _fragments(flow, make_parts, iso_timestamp):
    """What never changes across a flow's reports, as JSON, made on its first report and kept on the
    flow: the members of source, destination, network and flow (each `{...` without its `}`), then
    event.start (a JSON string) and the community ID member (`,"community_id":"..."`; b"" for none; None
    for ICMP: theirs follows the latest packet, so each report asks the flow)."""
    global _iso_reference, _TRANSPORT_NAMES
    cdef JBuf b
    cdef tuple fragments = (<FlowCounters>flow).event_json if isinstance(flow, FlowCounters) else flow.event_json
    if fragments is not None:
        return fragments
    if _TRANSPORT_NAMES is None:
        from packetshipper.decode.headers import TRANSPORT_NAMES
        _TRANSPORT_NAMES = TRANSPORT_NAMES
    _iso_reference = iso_timestamp
    fragments = _direct_fragments(flow)
    if fragments is None:
        parts = flow.event_cache
        if parts is None:
            parts = make_parts(flow)
            flow.event_cache = parts
        b.data, b.size, b.cap = NULL, 0, 0
        try:
            community = _community_member(&b, parts[5])
        finally:
            free(b.data)
        fragments = (_jprefix(parts[0]), _jprefix(parts[1]), _jprefix(parts[2]), _jprefix(parts[3]),
                     dumps(parts[4]), community)
    flow.event_json = fragments
    return fragments


cdef object _community_member(JBuf* b, community):
    """`,"community_id":<its JSON>`, written in `b` and taken, as _flow_json wrote it from the value at each
    report: b"" for a falsy one (no member), None for None (each report asks the flow)."""
    if community is None:
        return None
    if not community:
        return b""
    _jput(b, ',"community_id":', 16)
    _jvalue(b, community)
    return _jtake(b)


cdef bytes _jstr_bytes(str s):
    """_jstr's JSON string as bytes (for a string every document of a report carries)."""
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        _jstr(&b, s)
        return _jtake(&b)
    finally:
        free(b.data)


_report_json = (float("nan"), b"")  # (time, JSON string): _report_time's text, encoded once a report


cdef bytes _report_stamp_json(double now, reference):
    """_report_time(now) as a JSON string."""
    global _report_json
    cdef tuple stamp = _report_json
    if stamp[0] != now:
        stamp = _report_json = (now, _jstr_bytes(_report_time(now, reference)))
    return stamp[1]


cdef int _flow_json(JBuf* b, flow, bytes stamp, bint final, long long packets0, long long bytes0,
                    long long packets1, long long bytes1, make_parts, iso_timestamp) except -1:
    """orjson.dumps(flow_event(flow, now, final, counts)) appended to `b` (`stamp`: the report time, as
    a JSON string)."""
    cdef tuple fragments = _fragments(flow, make_parts, iso_timestamp)
    cdef FlowCounters c = <FlowCounters>flow if isinstance(flow, FlowCounters) else None
    community_member = fragments[5]
    community = flow.community_id if community_member is None else None
    start_ts = c.start if c is not None else flow.start
    cdef double last = c.last if c is not None else flow.last
    cdef double us
    cdef long long whole_us = 0
    cdef bint exact = type(start_ts) is float
    if exact:  # event.duration_ns in C: Python's round is half to even, as nearbyint
        us = (last - <double>start_ts) * 1e6
        exact = -9e15 < us < 9e15
        if exact:
            whole_us = <long long>nearbyint(us)
            if whole_us < 0:
                whole_us = 0
    duration = None if exact else max(_round((last - start_ts) * 1e6) * 1000, 0)
    _jreserve(b, 1536)
    _jbytes(b, b'{"@timestamp":')
    _jbytes(b, stamp)
    _jbytes(b, b',"type":"flow","event":{"kind":"event","category":["network"],"type":')
    if final:
        _jbytes(b, b'["connection","end"]')
    else:
        _jbytes(b, b'["connection"]')
    _jbytes(b, b',"action":"network_flow","dataset":"flow","start":')
    _jbytes(b, fragments[4])
    _jbytes(b, b',"end":')
    _jiso(b, last, iso_timestamp)
    _jbytes(b, b',"duration":')
    if exact:
        _jint(b, whole_us * 1000)
    else:
        _jvalue(b, duration)
    _jbytes(b, b'},"flow":')
    _jopen(b, fragments[3])
    _jbytes(b, b'"final":true}' if final else b'"final":false}')
    _jbytes(b, b',"source":')
    _jopen(b, fragments[0])
    _jbytes(b, b'"packets":')
    _jint(b, packets0)
    _jbytes(b, b',"bytes":')
    _jint(b, bytes0)
    _jbytes(b, b'},"destination":')
    if c.packets1 if c is not None else flow.packets1:
        _jopen(b, fragments[1])
        _jbytes(b, b'"packets":')
        _jint(b, packets1)
        _jbytes(b, b',"bytes":')
        _jint(b, bytes1)
    else:
        _jbytes(b, fragments[1])
    _jbytes(b, b'},"network":')
    _jopen(b, fragments[2])
    _jbytes(b, b'"packets":')
    _jint(b, packets0 + packets1)
    _jbytes(b, b',"bytes":')
    _jint(b, bytes0 + bytes1)
    if community_member is not None:
        _jbytes(b, <bytes>community_member)
    elif community:
        _jbytes(b, b',"community_id":')
        _jvalue(b, community)
    _jput(b, "}", 1)
    tcp = c.tcp if c is not None else flow.tcp
    if tcp is not None:
        _jbytes(b, b',"tcp":')
        if type(tcp) is TcpHealth:
            _tcp_json(b, <TcpHealth>tcp, final)
        else:
            _jvalue(b, tcp.fields(final))
    return _jput(b, "}", 1)


def flow_event_json(flow, double now, bint final, tuple counts, make_parts, iso_timestamp) -> bytes:
    """orjson.dumps(flow_event(flow, now, final, counts)), without building the event."""
    cdef long long packets0 = counts[0], bytes0 = counts[1], packets1 = counts[2], bytes1 = counts[3]
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        _flow_json(&b, flow, _report_stamp_json(now, iso_timestamp), final, packets0, bytes0, packets1, bytes1,
                   make_parts, iso_timestamp)
        return PyBytes_FromStringAndSize(b.data, b.size)
    finally:
        free(b.data)


def flow_documents(flows, double now, bint final, bytes tail, make_parts, iso_timestamp) -> list:
    """[flow_event_json(flow, now, final, totals)[:-1] + tail for flow in flows]: each flow's report of
    its totals (not deltas) with `tail` (`,"member":...}`) closing the document, in one pass."""
    cdef list out = []
    cdef FlowCounters counters
    cdef bytes stamp = _report_stamp_json(now, iso_timestamp)
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        for flow in flows:
            if isinstance(flow, FlowCounters):
                counters = <FlowCounters>flow
                _flow_json(&b, flow, stamp, final, counters.packets0, counters.bytes0, counters.packets1,
                           counters.bytes1, make_parts, iso_timestamp)
            else:
                _flow_json(&b, flow, stamp, final, flow.packets0, flow.bytes0, flow.packets1, flow.bytes1,
                           make_parts, iso_timestamp)
            b.size -= 1  # the event's closing brace: the tail's
            _jbytes(&b, tail)
            out.append(_jtake(&b))
        return out
    finally:
        free(b.data)


_FLAG_JSON = tuple(_dumps(list(names)) for names in _FLAG_LISTS)  # each flags byte's list, as JSON


cdef int _side_json(JBuf* b, Side* s, long long extra_gap) except -1:
    """_side_fields(s, extra_gap) as JSON."""
    _jbytes(b, b'{"retransmitted_packets":')
    _jint(b, s.rx_packets)
    _jbytes(b, b',"retransmitted_bytes":')
    _jint(b, s.rx_bytes)
    _jbytes(b, b',"out_of_order":')
    _jint(b, s.out_of_order)
    _jbytes(b, b',"gap_bytes":')
    _jint(b, s.gap_bytes + extra_gap)
    _jbytes(b, b',"zero_windows":')
    _jint(b, s.zero_windows)
    _jbytes(b, b',"flags":')
    _jbytes(b, <bytes>(<tuple>_FLAG_JSON)[s.flags & 0xFF])
    return _jput(b, "}", 1)


cdef int _rtt_json(JBuf* b, TcpHealth t) except -1:
    """TcpHealth.rtt_fields() as JSON, from the same figures (_rtt)."""
    cdef Rtt r
    _rtt(t, &r)
    _jbytes(b, b'{"samples":')
    _jint(b, r.samples)
    if r.server_us >= 0:
        _jbytes(b, b',"server_us":')
        _jint(b, r.server_us)
        if r.client_us >= 0:
            _jbytes(b, b',"handshake_us":')
            _jint(b, r.server_us + r.client_us)
    if r.client_us >= 0:
        _jbytes(b, b',"client_us":')
        _jint(b, r.client_us)
    if r.averaged:
        _jbytes(b, b',"mean_us":')
        _jround(b, r.mean * 1e6)
        _jbytes(b, b',"stddev_us":')
        _jround(b, _sqrt(r.variance) * 1e6)
    return _jput(b, "}", 1)


cdef inline int _jround(JBuf* b, double x) except -1:
    """Python's round(x) as JSON: half to even, as nearbyint, where a long long holds it; Python's own
    (an int of any size, or its error) elsewhere."""
    if -9e18 < x < 9e18:
        return _jint(b, <long long>nearbyint(x))
    return _jvalue(b, _round(x))


cdef int _tcp_json(JBuf* b, TcpHealth t, bint final) except -1:
    """TcpHealth.fields(final) as JSON: the same members in the same order."""
    _jbytes(b, b'{"connection_state":')
    _jstr(b, t.connection_state())
    _jbytes(b, b',"history":')
    _jput(b, "\"", 1)
    _jput(b, t.hist, t.hlen)  # history letters: never escaped
    _jbytes(b, b'","rtt":')
    _rtt_json(b, t)
    _jbytes(b, b',"source":')
    _side_json(b, &t.s0, t.s0.hole_missing if final else 0)
    _jbytes(b, b',"destination":')
    _side_json(b, &t.s1, t.s1.hole_missing if final else 0)
    return _jput(b, "}", 1)


def dumps(value) -> bytes:
    """The JSON writer flow_event_json uses, on any value (for tests: orjson.dumps gives the same)."""
    cdef JBuf b
    b.data, b.size, b.cap = NULL, 0, 0
    try:
        _jvalue(&b, value)
        return PyBytes_FromStringAndSize(b.data, b.size)
    finally:
        free(b.data)
