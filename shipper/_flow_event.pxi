# The compiled twin of modules/flows/event.flow_event (included by _hotpath.pyx): the same event, key
# for key and in the same order, built with C calls instead of bytecode. The flow module calls it and
# passes its own helpers, so the event's static parts, timestamps and names stay defined there.

def flow_event(flow, double now, bint final, tuple counts, make_parts, report_time, iso_timestamp) -> dict:
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
    if flow.packets1:
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
        "@timestamp": report_time(now),
        "type": "flow",
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"] if final else ["connection"],
            "action": "network_flow",
            "dataset": "flow",
            "start": parts[4],
            "end": iso_timestamp(last),
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
