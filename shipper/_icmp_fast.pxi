# Engine._icmp_fast, compiled (included by _hotpath.pyx): what the compiled loop calls for an ICMP message
# of the fast path's shape while a module takes ICMP (without one the loop accounts the flow itself).


cdef class IcmpFast:
    """`Engine._icmp_reference` for one engine, step for step: the flow-table step of the compiled loop
    (`_icmp_flow`: FlowTable.update, a packet of a known flow counted here), then the message to the
    dispatcher: `icmp_message` for an address pair it knows, else a whole `Packet` through `Engine._dispatch`.
    The engine's attributes are read at each call, as the method reads them."""

    cdef object engine, packet

    def __init__(self, engine, packet):
        self.engine = engine
        self.packet = packet  # decode.packet.Packet

    def __call__(self, buf, Py_ssize_t off, Py_ssize_t caplen, double ts, Py_ssize_t l4, Py_ssize_t end, int proto,
                 Py_ssize_t alen, tuple vlans, bint ethernet):
        cdef const unsigned char[::1] view = buf
        cdef const unsigned char* p = &view[0]
        cdef Py_ssize_t a = l4 - 2 * alen
        engine = self.engine
        flows = engine.flows
        if flows is not None:
            _icmp_flow(flows, flows.table((vlans, proto, -1)), p, off, caplen, ts, l4, alen, proto, vlans, ethernet)
        if not engine._wants_icmp:
            return
        message = _slice(p, l4, end)
        known = engine._known_icmp
        if known is not None and known(_slice(p, a, l4), ts, 0, 0, message):
            engine.dispatched += 1
            return
        if ethernet:
            src_mac, dst_mac = _slice(p, off + 6, off + 12), _slice(p, off, off + 6)
        else:
            src_mac = dst_mac = None
        engine._dispatch(self.packet(ts, caplen, 4 if alen == 4 else 6, _slice(p, a, a + alen), _slice(p, a + alen, l4),
                                     proto, 0, 0, message, 0, 0, 0, 0, vlans, src_mac, dst_mac))
