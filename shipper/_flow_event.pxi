# The compiled twin of modules/flows/event.flow_event (included by _hotpath.pyx): the same event, key
# for key and in the same order, built with C calls instead of bytecode. The flow module calls it and
# passes its own helpers, so the event's static parts, timestamps and names stay defined there.

def flow_event(flow, double now, bint final, tuple counts, make_parts, iso_timestamp) -> dict:
    """modules/flows/event.flow_event without its debug line (the module calls the reference for that)."""
    cdef tuple parts = flow.event_cache
    if parts is None:
        parts = make_parts(flow)
        flow.event_cache = parts
    cdef dict source_base = parts[0], destination_base = parts[1], network_base = parts[2]
    cdef dict flow_base = parts[3]
    community = parts[5]
    packets0, bytes0, packets1, bytes1 = counts
    cdef dict source = source_base.copy()
    source["packets"] = packets0
    source["bytes"] = bytes0
    cdef dict destination = destination_base.copy()
    if (<FlowCounters>flow).packets1 if isinstance(flow, FlowCounters) else flow.packets1:
        destination["packets"] = packets1
        destination["bytes"] = bytes1
    cdef dict network = network_base.copy()
    network["packets"] = packets0 + packets1
    network["bytes"] = bytes0 + bytes1
    if community is None:
        community = flow.community_id  # an ICMP flow's follows its latest type and code
    if community:
        network["community_id"] = community
    start_ts = flow.start
    last = flow.last
    duration = _round((last - start_ts) * 1e6) * 1000  # event.duration_ns
    if duration < 0:
        duration = 0
    cdef dict flow_fields = flow_base.copy()
    flow_fields["final"] = final
    cdef dict event = {
        "@timestamp": _report_time(now, iso_timestamp),
        "type": "flow",
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"] if final else ["connection"],
            "action": "network_flow",
            "dataset": "flow",
            "start": parts[4],
            "end": _iso(last, iso_timestamp),
            "duration": duration,
        },
        "flow": flow_fields,
        "source": source,
        "destination": destination,
        "network": network,
    }
    tcp = flow.tcp
    if tcp is not None:
        event["tcp"] = tcp.fields(final)  # totals, also with delta reporting
    return event


cdef extern from "<arpa/inet.h>":
    const char* inet_ntop(int af, const void* src, char* dst, unsigned int size)
    int AF_INET
    int AF_INET6

cdef const char* _HEX = b"0123456789ABCDEF"
_network_parts = {}  # (ip version, protocol) -> network.type and transport (or iana_number): 2 x 256 at most


cdef str _address(const unsigned char* p, Py_ssize_t n):
    cdef char out[64]
    if inet_ntop(AF_INET if n == 4 else AF_INET6, p, out, sizeof(out)) == NULL:
        raise ValueError("an address inet_ntop cannot format")
    return out.decode("ascii")


cdef str _mac(mac):
    """format_mac: upper-case hex pairs joined by dashes."""
    if type(mac) is not bytes:
        return mac.hex("-").upper()
    cdef Py_ssize_t n = len(<bytes>mac), i
    cdef const unsigned char* p = <bytes>mac
    if n == 0:
        return ""
    cdef bytearray out = bytearray(3 * n - 1)
    cdef unsigned char* o = out
    for i in range(n):
        o[3 * i] = _HEX[p[i] >> 4]
        o[3 * i + 1] = _HEX[p[i] & 15]
        if i + 1 < n:
            o[3 * i + 2] = 45  # '-'
    return out.decode("ascii")


def static_parts(flow, transport_names, iso_timestamp, reference):
    """modules/flows/event._static_parts for the keys the fast path makes (4- or 16-byte addresses,
    with or without ports); any other shape goes to `reference`."""
    cdef bytes key = flow.key
    cdef int ip_version = flow.ip_version
    cdef Py_ssize_t n = 4 if ip_version == 4 else 16, klen = len(key)
    if klen != 2 * n and klen != 2 * n + 4:
        return reference(flow)
    cdef const unsigned char* p = key
    cdef tuple table_id = flow.table_id
    vlans = table_id[0]
    proto = table_id[1]
    cdef dict source = {"ip": _address(p, n)}
    cdef dict destination = {"ip": _address(p + n, n)}
    which = (ip_version, proto)
    network = _network_parts.get(which)
    if network is None:
        network = {"type": f"ipv{ip_version}"}
        transport = transport_names.get(proto)
        if transport is not None:
            network["transport"] = transport
        else:
            network["iana_number"] = str(proto)
        if len(_network_parts) < 512:
            _network_parts[which] = network
    network = (<dict>network).copy()
    if proto == 6 or proto == 17 or proto == 132:
        if klen == 2 * n + 4:
            source["port"] = p[2 * n] << 8 | p[2 * n + 1]
            destination["port"] = p[2 * n + 2] << 8 | p[2 * n + 3]
        else:
            source["port"] = 0
            destination["port"] = 0
    src_mac, dst_mac = flow.src_mac, flow.dst_mac
    if src_mac is not None and dst_mac is not None:
        source["mac"] = _mac(src_mac)
        destination["mac"] = _mac(dst_mac)
    cdef dict flow_fields = {"id": flow.flow_id}
    if vlans:
        flow_fields["vlan"] = vlans[0] if len(vlans) == 1 else list(vlans)
    community = None
    if flow.icmp_type < 0:  # Flow.community_id, from the key's bytes (ports as Flow.endpoints gives them)
        sport = dport = 0
        if klen == 2 * n + 4:
            sport = p[2 * n] << 8 | p[2 * n + 1]
            dport = p[2 * n + 2] << 8 | p[2 * n + 3]
        if 0 <= proto <= 255 and not ((proto == 1 or proto == 58) and (sport > 255 or dport > 255)):
            community = _community(proto, p, p + n, n, sport, dport)
        else:
            community = flow.community_id  # the reference's answer, or its error
    return source, destination, network, flow_fields, _iso(flow.start, iso_timestamp), community
