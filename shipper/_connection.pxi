# Dispatcher._connection, compiled (included by _hotpath.pyx after _flow_ids.pxi and _flow_event.pxi): the
# Connection a TCP connection, UDP flow or ICMP pair is opened with, made of the same values in the same
# order, without the bytecode. The caller passes the classes and helpers dispatch.py uses, so they stay
# defined there.


cdef inline object _mac_text(mac):
    """dispatch.mac_text."""
    if not mac:
        return None
    return _mac(mac)


def connection_of(pkt, bint client_is_src, str transport, endpoint, connection, community_reference, ids):
    """Dispatcher._connection(pkt, client_is_src, transport): `endpoint` and `connection` are
    protocol.Endpoint and Connection, `community_reference` community_id.community_id (which answers for
    what the compiled one does not take, and whose error leaves the id out), `ids` the dispatcher's
    counter. None for addresses of a length other than the IP version's: the reference makes those."""
    version = pkt.ip_version
    src = pkt.src
    dst = pkt.dst
    cdef Py_ssize_t n = 4 if version == 4 else 16  # socket.inet_ntop's family: AF_INET for 4, else AF_INET6
    if type(src) is not bytes or type(dst) is not bytes or len(<bytes>src) != n or len(<bytes>dst) != n:
        return None
    sport = pkt.sport
    dport = pkt.dport
    a = endpoint(_address(<bytes>src, n), sport, _mac_text(pkt.src_mac))
    b = endpoint(_address(<bytes>dst, n), dport, _mac_text(pkt.dst_mac))
    cid = None
    if transport != "icmp":
        try:
            cid = community_id(pkt.proto, src, dst, sport, dport, community_reference)
        except Exception:  # as the reference: a broken helper must not stop capture; the event just lacks it
            cid = None
    if client_is_src:
        return connection(transport, version, a, b, tuple(pkt.vlans), cid, next(ids))
    return connection(transport, version, b, a, tuple(pkt.vlans), cid, next(ids))
