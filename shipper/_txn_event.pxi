# The compiled twin of event.transaction_event (included by _hotpath.pyx): the same event, key for key and
# in the same order, with the same Python operations on the same values, without the bytecode. The caller
# (dispatch.ModuleRunner) passes the objects event.py defines, so they stay defined there.

_IP_NAMES = {4: "ipv4", 6: "ipv6"}


cdef dict _txn_endpoint(endpoint, nbytes):
    """event._endpoint."""
    cdef dict out = {"ip": endpoint.ip, "bytes": nbytes}
    port = endpoint.port
    if port:
        out["port"] = port
    mac = endpoint.mac
    if mac:
        out["mac"] = mac
    return out


cdef void _txn_merge(dict base, dict extra, omit, mapping, merge) except *:
    """event.deep_merge(base, extra) for plain dicts; `merge` (the reference) takes any other mapping."""
    for key, value in extra.items():
        if value is omit:
            base.pop(key, None)
            continue
        current = base.get(key)
        if isinstance(current, dict) and (type(value) is dict or isinstance(value, mapping)):
            if type(current) is dict and type(value) is dict:
                _txn_merge(<dict>current, <dict>value, omit, mapping, merge)
            else:
                merge(current, value)
        else:
            base[key] = value


def transaction_event(module_name, txn, fields, ok, omit, mapping, merge, iso_reference) -> dict:
    """event.transaction_event(module_name, txn, fields); `ok` is Status.OK, `omit` event.OMIT, `mapping`
    collections.abc.Mapping, `merge` event.deep_merge, `iso_reference` event.iso_timestamp."""
    conn = txn.connection
    client = conn.client
    server = conn.server
    start = txn.start
    end = txn.end
    started = _iso(start, iso_reference)
    ended = started if end == start else _iso(end, iso_reference)
    request_bytes = txn.request_bytes
    response_bytes = txn.response_bytes
    status = txn.status
    duration = _round((end - start) * 1e6) * 1000  # event.duration_ns
    if duration < 0:
        duration = 0
    cdef dict event_part = {
        "kind": "event",
        "category": ["network"],
        "type": ["connection", "protocol"],
        "dataset": module_name,
        "start": started,
        "end": ended,
        "duration": duration,
    }
    if status is not ok:
        event_part["outcome"] = "failure"
    elif txn.response is not None:
        event_part["outcome"] = "success"
    ip_version = conn.ip_version
    cdef dict network = {
        "type": _IP_NAMES.get(ip_version) or f"ipv{ip_version}",
        "transport": conn.transport,
        "protocol": module_name,
        "bytes": request_bytes + response_bytes,
    }
    community = conn.community_id
    if community:
        network["community_id"] = community
    vlans = conn.vlans
    if vlans:
        network["vlan"] = {"id": str(vlans[0])}
    cdef dict source = _txn_endpoint(client, request_bytes)
    cdef dict destination = _txn_endpoint(server, response_bytes)
    client_ip = client.ip
    server_ip = server.ip
    cdef dict event = {
        "@timestamp": started,
        "type": module_name,
        "status": str(status),
        "event": event_part,
        "network": network,
        "source": source,
        "destination": destination,
        "client": source.copy(),
        "server": destination.copy(),
        "related": {"ip": [client_ip, server_ip] if client_ip < server_ip else
                    [server_ip, client_ip] if server_ip < client_ip else [client_ip]},
    }
    error = txn.error
    if error:
        event["error"] = {"message": error}
    if txn.gaps or txn.out_of_order or txn.overlaps:
        event["tcp"] = {"gaps": txn.gaps, "out_of_order": txn.out_of_order, "overlaps": txn.overlaps}
    notes = txn.notes
    if notes:
        event["notes"] = list(notes)
    if type(fields) is dict:
        _txn_merge(event, <dict>fields, omit, mapping, merge)
    else:
        merge(event, fields)
    return event
