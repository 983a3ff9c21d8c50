# The transaction event straight to JSON (included by _hotpath.pyx after _txn_event.pxi): the bytes
# orjson.dumps(envelope.wrap(transaction_event(...))) gives, with the envelope's members as a tail, written
# from the transaction without the event's dicts. Only a member the module's fields also name is made as
# a dict (as transaction_event makes it) and merged, so the module's fields still win as deep_merge has
# them win. Tests keep it equal to orjson's encoding of the event the reference builds.

# The event's own members and the envelope's: fields naming one of the envelope's send the event back to
# the dict path (`host`: a module's own host is merged into the envelope's there).
_TXN_MEMBERS = frozenset(("@timestamp", "type", "status", "event", "network", "source", "destination", "client",
                          "server", "related", "error", "tcp", "notes"))
_TXN_ENVELOPE = frozenset(("agent", "ecs", "host", "@metadata"))

cdef object _txn_missing = object()
# The buffer every document is written in (the GIL held throughout: one writer at a time); a buffer grown
# past _TXN_BUF_KEPT by a large event is let go after it.
cdef JBuf _txn_buf
_txn_buf.data, _txn_buf.size, _txn_buf.cap = NULL, 0, 0
cdef Py_ssize_t _TXN_BUF_KEPT = 65536
cdef bint _txn_busy = False
cdef bytes _TXN_EVENT_OPEN = b'{"kind":"event","category":["network"],"type":["connection","protocol"],"dataset":'


cdef dict _txn_event_part(str module_name, str started, str ended, long long duration, outcome):
    """transaction_event's `event` member."""
    cdef dict part = {"kind": "event", "category": ["network"], "type": ["connection", "protocol"],
                      "dataset": module_name, "start": started, "end": ended, "duration": duration}
    if outcome is not None:
        part["outcome"] = outcome
    return part


cdef dict _txn_network(conn, str module_name, nbytes):
    """transaction_event's `network` member."""
    ip_version = conn.ip_version
    cdef dict network = {"type": _IP_NAMES.get(ip_version) or f"ipv{ip_version}", "transport": conn.transport,
                         "protocol": module_name, "bytes": nbytes}
    community = conn.community_id
    if community:
        network["community_id"] = community
    vlans = conn.vlans
    if vlans:
        network["vlan"] = {"id": str(vlans[0])}
    return network


cdef list _txn_related_ips(client_ip, server_ip):
    return [client_ip, server_ip] if client_ip < server_ip else [server_ip, client_ip] if server_ip < client_ip \
        else [client_ip]


cdef int _jkey(JBuf* b, const char* key, Py_ssize_t n) except -1:
    """`,"key":` (without the comma for the first member, whose `{` the caller wrote)."""
    _jreserve(b, n + 4)
    if b.data[b.size - 1] != 123:  # '{'
        b.data[b.size] = 44  # ','
        b.size += 1
    b.data[b.size] = 34
    memcpy(b.data + b.size + 1, key, n)
    b.data[b.size + 1 + n] = 34
    b.data[b.size + 2 + n] = 58  # ':'
    b.size += n + 3
    return 0




cdef int _jendpoint(JBuf* b, endpoint, nbytes) except -1:
    """_txn_endpoint(endpoint, nbytes) as JSON."""
    _jput(b, "{", 1)
    _jkey(b, "ip", 2)
    _jvalue(b, endpoint.ip)
    _jkey(b, "bytes", 5)
    _jvalue(b, nbytes)
    port = endpoint.port
    if port:
        _jkey(b, "port", 4)
        _jvalue(b, port)
    mac = endpoint.mac
    if mac:
        _jkey(b, "mac", 3)
        _jvalue(b, mac)
    return _jput(b, "}", 1)


cdef int _jside(JBuf* b, const char* key, Py_ssize_t n, endpoint, nbytes, value, omit, mapping, merge) except -1:
    """An endpoint member (`source`, ...), merged with the module's `value` unless that is _txn_missing."""
    if value is _txn_missing:
        _jkey(b, key, n)
        return _jendpoint(b, endpoint, nbytes)
    return _jmember(b, key, n, _txn_merged(_txn_endpoint(endpoint, nbytes), value, omit, mapping, merge))


cdef Py_ssize_t _jside_kept(JBuf* b, const char* key, Py_ssize_t n, endpoint, nbytes, value, twin, omit, mapping,
                            merge) except -2:
    """_jside; where neither this member nor its twin (`client` for `source`) is merged, the offset its
    endpoint's JSON starts at, for the twin to copy (it ends where the buffer does on return); else -1."""
    cdef Py_ssize_t start
    if value is _txn_missing and twin is _txn_missing:
        _jkey(b, key, n)
        start = b.size
        _jendpoint(b, endpoint, nbytes)
        return start
    _jside(b, key, n, endpoint, nbytes, value, omit, mapping, merge)
    return -1


cdef int _jside_again(JBuf* b, const char* key, Py_ssize_t n, Py_ssize_t start, Py_ssize_t end, endpoint, nbytes,
                      value, omit, mapping, merge) except -1:
    """The twin member of one _jside_kept wrote: a copy of the buffer's [start, end), or _jside where it kept none."""
    if start < 0:
        return _jside(b, key, n, endpoint, nbytes, value, omit, mapping, merge)
    _jkey(b, key, n)
    _jreserve(b, end - start)  # may move the data: offsets, not pointers, until here
    memcpy(b.data + b.size, b.data + start, end - start)
    b.size += end - start
    return 0


cdef bint _txn_has_omit(dict fields, omit):
    """Whether a member of `fields` is OMIT (by identity, as deep_merge tests it)."""
    for value in fields.values():
        if value is omit:
            return True
    return False


cdef inline object _txn_override(dict fields, bint overlap, str key):
    """The module's value for one of the event's members, or _txn_missing."""
    if not overlap:
        return _txn_missing
    return fields.get(key, _txn_missing)


cdef object _txn_merged(object own, object value, omit, mapping, merge):
    """What deep_merge leaves at a member the event has (`own`, made afresh) and the module's fields name:
    _txn_missing where OMIT removes it."""
    if value is omit:
        return _txn_missing
    if type(own) is dict and (type(value) is dict or isinstance(value, mapping)):
        if type(value) is dict:
            _txn_merge(<dict>own, <dict>value, omit, mapping, merge)
        else:
            merge(own, value)
        return own
    return value


cdef int _jown(JBuf* b, const char* key, Py_ssize_t n, own, value, omit, mapping, merge) except -1:
    """One of the event's members whose value the caller has made (`own`), merged with the module's."""
    if value is _txn_missing:
        _jkey(b, key, n)
        return _jvalue(b, own)
    return _jmember(b, key, n, _txn_merged(own, value, omit, mapping, merge))


cdef int _jmember(JBuf* b, const char* key, Py_ssize_t n, value) except -1:
    if value is not _txn_missing:
        _jkey(b, key, n)
        _jvalue(b, value)
    return 0


cdef int _txn_json(JBuf* b, str module_name, txn, dict fields, bint overlap, ok, omit, mapping, merge,
                   iso_reference) except -1:
    conn = txn.connection
    client = conn.client
    server = conn.server
    start = txn.start
    end = txn.end
    # The timestamps as str only where a merge needs them; else written in place.
    cdef bint texts = overlap and ("@timestamp" in fields or "event" in fields)
    started = _iso(start, iso_reference) if texts else None
    ended = (started if end == start else _iso(end, iso_reference)) if texts else None
    request_bytes = txn.request_bytes
    response_bytes = txn.response_bytes
    status = txn.status
    duration = _round((end - start) * 1e6) * 1000  # event.duration_ns
    if duration < 0:
        duration = 0
    outcome = "failure" if status is not ok else "success" if txn.response is not None else None
    _jput(b, "{", 1)
    if texts:
        _jown(b, "@timestamp", 10, started, _txn_override(fields, overlap, "@timestamp"), omit, mapping, merge)
    else:
        _jkey(b, "@timestamp", 10)
        _jiso(b, start, iso_reference)
    _jown(b, "type", 4, module_name, _txn_override(fields, overlap, "type"), omit, mapping, merge)
    value = _txn_override(fields, overlap, "status")
    if value is _txn_missing and type(status) is type(ok):  # a Status is the str of its value
        _jkey(b, "status", 6)
        _jstr(b, <str>status)
    else:
        _jown(b, "status", 6, str(status), value, omit, mapping, merge)

    value = _txn_override(fields, overlap, "event")
    if value is _txn_missing:
        _jkey(b, "event", 5)
        _jbytes(b, _TXN_EVENT_OPEN)
        _jstr(b, module_name)
        _jput(b, ',"start":', 9)
        _jiso(b, start, iso_reference)
        _jput(b, ',"end":', 7)
        if end == start:
            _jiso(b, start, iso_reference)
        else:
            _jiso(b, end, iso_reference)
        _jput(b, ',"duration":', 12)
        _jvalue(b, duration)
        if outcome is not None:
            _jput(b, ',"outcome":', 11)
            _jstr(b, outcome)
        _jput(b, "}", 1)
    else:
        _jmember(b, "event", 5, _txn_merged(_txn_event_part(module_name, started, ended, duration, outcome), value,
                                            omit, mapping, merge))

    value = _txn_override(fields, overlap, "network")
    if value is _txn_missing:
        ip_version = conn.ip_version
        _jkey(b, "network", 7)
        _jput(b, '{"type":', 8)
        _jvalue(b, _IP_NAMES.get(ip_version) or f"ipv{ip_version}")
        _jput(b, ',"transport":', 13)
        _jvalue(b, conn.transport)
        _jput(b, ',"protocol":', 12)
        _jstr(b, module_name)
        _jput(b, ',"bytes":', 9)
        _jvalue(b, request_bytes + response_bytes)
        community = conn.community_id
        if community:
            _jput(b, ',"community_id":', 16)
            _jvalue(b, community)
        vlans = conn.vlans
        if vlans:
            _jput(b, ',"vlan":{"id":', 14)
            _jstr(b, str(vlans[0]))
            _jput(b, "}", 1)
        _jput(b, "}", 1)
    else:
        _jmember(b, "network", 7, _txn_merged(_txn_network(conn, module_name, request_bytes + response_bytes), value,
                                              omit, mapping, merge))

    # `client` and `server` repeat `source` and `destination` where none of them is merged: copied.
    client_value = _txn_override(fields, overlap, "client")
    server_value = _txn_override(fields, overlap, "server")
    cdef Py_ssize_t source_at, source_end, destination_at, destination_end
    source_at = _jside_kept(b, "source", 6, client, request_bytes, _txn_override(fields, overlap, "source"),
                            client_value, omit, mapping, merge)
    source_end = b.size
    destination_at = _jside_kept(b, "destination", 11, server, response_bytes,
                                 _txn_override(fields, overlap, "destination"), server_value, omit, mapping, merge)
    destination_end = b.size
    _jside_again(b, "client", 6, source_at, source_end, client, request_bytes, client_value, omit, mapping, merge)
    _jside_again(b, "server", 6, destination_at, destination_end, server, response_bytes, server_value, omit,
                 mapping, merge)

    value = _txn_override(fields, overlap, "related")
    if value is _txn_missing:
        _jkey(b, "related", 7)
        _jput(b, '{"ip":', 6)
        _jvalue(b, _txn_related_ips(client.ip, server.ip))
        _jput(b, "}", 1)
    else:
        _jmember(b, "related", 7, _txn_merged({"ip": _txn_related_ips(client.ip, server.ip)}, value, omit, mapping,
                                              merge))

    # The members an event may lack: one the event lacks and the fields name comes with the fields, after them.
    error = txn.error
    if error:
        _jmember(b, "error", 5, _txn_merged({"message": error}, fields["error"], omit, mapping, merge)
                 if overlap and "error" in fields else {"message": error})
    gaps = txn.gaps
    out_of_order = txn.out_of_order
    overlaps = txn.overlaps
    if gaps or out_of_order or overlaps:
        tcp = {"gaps": gaps, "out_of_order": out_of_order, "overlaps": overlaps}
        _jmember(b, "tcp", 3, _txn_merged(tcp, fields["tcp"], omit, mapping, merge)
                 if overlap and "tcp" in fields else tcp)
    notes = txn.notes
    if notes:
        _jmember(b, "notes", 5, _txn_merged(list(notes), fields["notes"], omit, mapping, merge)
                 if overlap and "notes" in fields else list(notes))

    # The module's own members, after the event's, by orjson (twice as fast as _jvalue on their nested
    # dicts): the whole dict where none is merged above or left out, else those that remain.
    rest = fields
    if overlap or _txn_has_omit(fields, omit):
        rest = {}
        for key, value in fields.items():
            if value is omit:
                continue  # deep_merge pops a member the event lacks: nothing to leave out
            if overlap and key in _TXN_MEMBERS and (
                    key not in ("error", "tcp", "notes") or (key == "error" and error) or
                    (key == "tcp" and (gaps or out_of_order or overlaps)) or (key == "notes" and notes)):
                continue  # merged into the event's own member above
            rest[key] = value
    cdef bytes members
    if rest:
        members = _dumps(rest)
        _jput(b, ",", 1)
        _jput(b, <const char*>members + 1, len(members) - 2)  # without its braces
    return 0


def transaction_document(str module_name, txn, fields, ok, omit, mapping, merge, iso_reference, bytes tail):
    """orjson.dumps(envelope.wrap(transaction_event(module_name, txn, fields)))[:-1] + tail, where `tail`
    is the envelope's members (`,"agent":...}`) and the envelope adds no tags or custom fields; None
    where the event must be made as a dict: `fields` not a plain dict, naming a member of the envelope,
    or holding what orjson refuses (the dict path then says why). Arguments as transaction_event's."""
    if type(fields) is not dict:
        return None
    cdef bint overlap = False
    for key in <dict>fields:
        if key in _TXN_MEMBERS:
            overlap = True
        elif key in _TXN_ENVELOPE:
            return None
    cdef JBuf own
    global _txn_busy
    if _txn_busy:  # a merge's Python code let another thread in, or called back: a buffer of its own
        own.data, own.size, own.cap = NULL, 0, 0
        try:
            return _txn_document(&own, module_name, txn, <dict>fields, overlap, ok, omit, mapping, merge,
                                 iso_reference, tail)
        finally:
            free(own.data)
    _txn_busy = True
    try:
        return _txn_document(&_txn_buf, module_name, txn, <dict>fields, overlap, ok, omit, mapping, merge,
                             iso_reference, tail)
    finally:
        _txn_busy = False
        if _txn_buf.cap > _TXN_BUF_KEPT:  # an event far larger than most: its memory goes back
            free(_txn_buf.data)
            _txn_buf.data, _txn_buf.size, _txn_buf.cap = NULL, 0, 0


cdef object _txn_document(JBuf* b, str module_name, txn, dict fields, bint overlap, ok, omit, mapping, merge,
                          iso_reference, bytes tail):
    b.size = 0
    try:
        _txn_json(b, module_name, txn, fields, overlap, ok, omit, mapping, merge, iso_reference)
    except (TypeError, UnicodeEncodeError):  # orjson.JSONEncodeError is a TypeError
        return None
    _jbytes(b, tail)
    return PyBytes_FromStringAndSize(b.data, b.size)
