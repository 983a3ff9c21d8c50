"""The per-packet loop: decode, account the packet to its flow, hand it to a protocol module.

`Engine.process_batch` takes one `next_batch` result from the capture. Frames of the most common shape
(Ethernet, optionally one 802.1Q tag, or Linux cooked; IPv4 without options and unfragmented, or IPv6
without extension headers; TCP, UDP or ICMP) take a fused fast path that reads the few header bytes it needs
straight from the batch buffer and slices one flow-table key per packet. Every other frame goes through the reference `Decoder`. Tests
check that both paths give the same flows. Where the compiled hot path is installed (`hotpath.py`),
`process_batch` runs its compiled twin, with the same results, and the flows' TCP health is compiled too.

The clock is the packet timestamp when reading a file and the wall clock when live; `advance(now)` runs
flow reports and expiry, fragment expiry and the dispatcher's timeouts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cached_property
from typing import Any

from . import hotpath
from .capture import META
from .decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL, Decoded, Decoder
from .decode.headers import IPPROTO_TCP, IPPROTO_UDP
from .decode.packet import Packet
from .detect import Detector
from .flows import Flow, FlowTable, flow_keys
from .tcp_health import TcpHealth

__all__ = ["Engine"]

_PORTS = struct.Struct("!HH")
# Read at the ethertype: ethertype, version_ihl, total_length, flags_fragment_offset, protocol.
_IPV4_FIXED = struct.Struct("!HBxHxxHxB")
_TCP_REST = struct.Struct("!IIBBH")  # seq, ack, data offset, flags, window


class Engine:
    def __init__(self, decoder: Decoder, flows: FlowTable | None = None, dispatcher: Any = None) -> None:
        self.decoder = decoder
        self.flows = flows
        self.dispatcher = dispatcher
        self.received = 0
        self.bytes = 0
        self.fast_path = 0
        self.dispatched = 0
        self.last_ts: float | None = None
        self._next_deadline = float("-inf")
        self._tick = 1.0
        self._tcp_ports: frozenset[int] = frozenset(dispatcher.tcp_ports) if dispatcher else frozenset()
        self._udp_ports: frozenset[int] = frozenset(dispatcher.udp_ports) if dispatcher else frozenset()
        self._wants_icmp: bool = bool(dispatcher and dispatcher.wants_icmp)
        # Detection by content: TCP/UDP on other ports goes to the dispatcher too, except connections
        # already found to be no module's (`rejected`, checked first).
        self._detector: Detector | None = getattr(dispatcher, "detector", None)
        # The fast path only knows these link layers; the offset of the IP header (or -1).
        self._l3 = {LINK_ETHERNET: 14, LINK_LINUX_SLL: 16}.get(decoder.linktype, -1)
        self._compiled = hotpath.compiled if hotpath.enabled else None
        self._new_health: Callable[[bool], Any] = self._compiled.TcpHealth if self._compiled else TcpHealth
        # The compiled path's cache of flow-table lookups (bounded by max_flows).
        self._flow_index = self._compiled.FlowIndex(flows.max_flows) if self._compiled and flows is not None else None
        # What the loops call for an ICMP message of the fast path's shape (the compiled one: its twin).
        self._icmp_fast: Callable[..., None] = (self._compiled.IcmpFast(self, Packet) if self._compiled is not None
                                                 else self._icmp_reference)
        hotpath.log_choice()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"received": self.received, "bytes": self.bytes, "fast_path": self.fast_path,
                               "dispatched": self.dispatched}
        out.update(self.decoder.stats())
        return out

    # --- the loop ---------------------------------------------------------------------------------

    def process_batch(self, buf: bytes, meta: bytes) -> None:
        if self._compiled is not None:
            self._compiled.process_batch(self, buf, meta)
            return
        flows = self.flows
        health = flows is not None and flows.tcp_health
        tcp_rest = _TCP_REST.unpack_from
        tcp_table = flows.table(((), IPPROTO_TCP, -1)) if flows is not None else {}
        udp_table = flows.table(((), IPPROTO_UDP, -1)) if flows is not None else {}
        slow_packet = self._slow_packet
        tcp_ports, udp_ports = self._tcp_ports, self._udp_ports
        dispatch = self._dispatch if self.dispatcher is not None else None
        detector = self._detector
        detecting = detector is not None
        rejected = detector.rejected if detector is not None else {}
        forget = detector.forget if detector is not None else _no_forget
        ethernet = self.decoder.linktype == LINK_ETHERNET
        l3 = self._l3
        min_fast = l3 + 28 if l3 >= 0 else 1 << 30  # the smallest IPv4 UDP datagram
        fixed = _IPV4_FIXED.unpack_from
        ports_of = _PORTS.unpack_from
        deadline = self._next_deadline
        slow = 0
        ts = 0.0
        for sec, usec, off, caplen in META.iter_unpack(meta):
            ts = sec + usec * 1e-6
            if ts >= deadline:
                self.advance(ts)
                deadline = self._next_deadline
            # --- fast path: [Ethernet [802.1Q] | SLL] / IPv4 (IHL 5, unfragmented) or IPv6 (no
            #     extension headers) / TCP|UDP ----------------------------------------------------
            if caplen >= min_fast:
                p = off + l3 - 2  # the ethertype
                ethertype, vihl, total, frag, proto = fixed(buf, p)
                vlans: tuple[int, ...] = ()
                if ethertype == 0x8100 and ethernet and caplen >= min_fast + 4:
                    vlans = ((buf[p + 2] & 0x0F) << 8 | buf[p + 3],)
                    p += 4
                    ethertype, vihl, total, frag, proto = fixed(buf, p)
                ip = p + 2
                if ethertype == 0x0800 and vihl == 0x45 and not frag & 0x3FFF:
                    l4 = ip + 20
                    end = ip + total
                    alen = 4
                elif ethertype == 0x86DD and vihl >> 4 == 6:
                    proto = buf[ip + 6]
                    l4 = ip + 40
                    end = l4 + (buf[ip + 4] << 8 | buf[ip + 5])
                    alen = 16
                else:
                    end = 0
                if end and end <= off + caplen and (
                        (proto == 6 and end - l4 >= 20 and 20 <= (buf[l4 + 12] >> 4) * 4 <= end - l4)
                        or (proto == 17 and end - l4 >= 8 and 8 <= (buf[l4 + 4] << 8 | buf[l4 + 5]) <= end - l4)):
                    if flows is not None:
                        a = l4 - 2 * alen  # source address; destination follows, then the ports
                        key = buf[a:l4 + 4]
                        flags = buf[l4 + 13] if proto == 6 else 0
                        if vlans:
                            table = flows.table((vlans, proto, -1))
                        else:  # IPv4 and IPv6 share a subtable: their keys differ in length
                            table = tcp_table if proto == 6 else udp_table
                        entry = table.get(key)
                        if entry is None or (flags & 0x02 and entry[0].closed):
                            reverse = buf[a + alen : l4] + buf[a : a + alen] + buf[l4 + 2 : l4 + 4] + buf[l4 : l4 + 2]
                            macs = (buf[off + 6 : off + 12], buf[off : off + 6]) if ethernet else _NO_MACS
                            flow = flows.update((vlans, proto, -1), key, reverse, 4 if alen == 4 else 6, ts, caplen,
                                                flags, *macs)
                            if health and proto == 6 and flow is not None:
                                seq, ack, doff, _, window = tcp_rest(buf, l4 + 4)
                                _tcp_health(TcpHealth, flow, key, ts, flags, seq, ack, window,
                                            end - l4 - (doff >> 4) * 4)
                        else:
                            flow = entry[0]
                            if entry[1]:
                                flow.packets1 += 1
                                flow.bytes1 += caplen
                            else:
                                flow.packets0 += 1
                                flow.bytes0 += caplen
                            flow.last = ts
                            if flags & 0x05:  # FIN or RST: a later SYN starts a new flow
                                flow.closed = True
                            if proto == 6:
                                tcp = flow.tcp
                                if tcp is not None:
                                    seq, ack, doff, _, window = tcp_rest(buf, l4 + 4)
                                    tcp.update(entry[1], ts, flags, seq, ack, window, end - l4 - (doff >> 4) * 4)
                    if dispatch is not None:
                        sport, dport = ports_of(buf, l4)
                        if (sport in tcp_ports or dport in tcp_ports) if proto == 6 else (
                                sport in udp_ports or dport in udp_ports):
                            self._dispatch_fast(buf, off, caplen, ts, l4, end, proto, alen, sport, dport, vlans,
                                                ethernet)
                        elif detecting:
                            key = buf[l4 - 2 * alen : l4 + 4]
                            if key not in rejected or (proto == 6 and buf[l4 + 13] & 0x02 and forget(key)):
                                self._dispatch_fast(buf, off, caplen, ts, l4, end, proto, alen, sport, dport, vlans,
                                                    ethernet)
                    continue
                if end and (proto == 1 or proto == 58) and end - l4 >= 8 and end <= off + caplen:
                    self._icmp_fast(buf, off, caplen, ts, l4, end, proto, alen, vlans, ethernet)
                    continue
            # --- everything else: the reference decoder ----------------------------------------
            slow += 1
            slow_packet(buf, off, caplen, ts)
        received = len(meta) // 16
        self.received += received
        self.bytes += sum(memoryview(meta).cast("I")[3::4])
        self.fast_path += received - slow
        if received:
            self.last_ts = ts

    def _slow_packet(self, buf: bytes, off: int, caplen: int, ts: float) -> None:
        """A frame of a shape the fast path does not take: the reference decoder, then the same steps."""
        d = self.decoder.decode(buf, off, caplen, caplen, ts)
        if d is None:
            return
        flows = self.flows
        if flows is not None:
            table_id, key, reverse = flow_keys(d.vlans, d.proto, d.src, d.dst, d.sport, d.dport, d.icmp_type,
                                               d.icmp_id)
            flow = flows.update(table_id, key, reverse, d.ip_version, ts, d.wire_len, d.tcp_flags, d.src_mac,
                                d.dst_mac, d.icmp_type, d.icmp_code)
            if flows.tcp_health and d.proto == IPPROTO_TCP and flow is not None:
                # On the wire the payload may be longer than what the snaplen kept.
                plen = d.pend - d.poff + (d.wire_len - caplen if d.truncated else 0)
                _tcp_health(self._new_health, flow, key, ts, d.tcp_flags, d.seq, d.ack, d.window, plen)
        if self.dispatcher is not None:
            proto = d.proto
            tcp_ports, udp_ports = self._tcp_ports, self._udp_ports
            if ((proto == IPPROTO_TCP and (d.sport in tcp_ports or d.dport in tcp_ports))
                    or (proto == IPPROTO_UDP and (d.sport in udp_ports or d.dport in udp_ports))
                    or (self._wants_icmp and (proto == 1 or proto == 58))
                    or (self._detector is not None and proto in (IPPROTO_TCP, IPPROTO_UDP) and self._probe_wanted(d))):
                self._dispatch(_packet_from(d, ts))

    def _icmp_reference(self, buf: bytes, off: int, caplen: int, ts: float, l4: int, end: int, proto: int, alen: int,
                        vlans: tuple[int, ...], ethernet: bool) -> None:
        """An ICMP or ICMPv6 message of the fast path's shape: the reference decoder's steps, without it."""
        a = l4 - 2 * alen  # source address, then the destination: the flow key
        src_mac, dst_mac = (buf[off + 6 : off + 12], buf[off : off + 6]) if ethernet else _NO_MACS
        ip_version = 4 if alen == 4 else 6
        if self.flows is not None:
            self.flows.update((vlans, proto, -1), buf[a:l4], buf[a + alen : l4] + buf[a : a + alen], ip_version, ts,
                              caplen, 0, src_mac, dst_mac, buf[l4], buf[l4 + 1])
        if self._wants_icmp:
            known_message = self._known_icmp
            if known_message is not None and known_message(buf[a:l4], ts, 0, 0, buf[l4:end]):
                self.dispatched += 1
                return
            self._dispatch(Packet(ts, caplen, ip_version, buf[a : a + alen], buf[a + alen : l4], proto, 0, 0,
                                  buf[l4:end], 0, 0, 0, 0, vlans, src_mac, dst_mac))

    def _dispatch_fast(self, buf: bytes, off: int, caplen: int, ts: float, l4: int, end: int, proto: int,
                       alen: int, sport: int, dport: int, vlans: tuple[int, ...], ethernet: bool) -> None:
        a = l4 - 2 * alen  # source address; destination follows, then the ports: the table key
        if proto == IPPROTO_TCP:
            seq, ack, doff_byte, flags, window = _TCP_REST.unpack_from(buf, l4 + 4)
            payload = buf[l4 + (doff_byte >> 4) * 4 : end]
            known_segment = self._known_segment
            if known_segment is not None and known_segment(buf[a : l4 + 4], ts, flags, seq, payload):
                self.dispatched += 1
                return
        else:
            # The UDP length, not the IP one, ends the payload.
            payload = buf[l4 + 8 : l4 + (buf[l4 + 4] << 8 | buf[l4 + 5])]
            known_datagram = self._known_datagram
            if known_datagram is not None and known_datagram(buf[a : l4 + 4], ts, sport, dport, payload):
                self.dispatched += 1
                return
            self._dispatch_datagram(buf, off, caplen, ts, l4, alen, sport, dport, vlans, ethernet, payload)
            return
        src_mac, dst_mac = (buf[off + 6 : off + 12], buf[off : off + 6]) if ethernet else _NO_MACS
        self._dispatch(Packet(ts, caplen, 4 if alen == 4 else 6, buf[a : a + alen], buf[a + alen : l4], proto,
                              sport, dport, payload, flags, seq, ack, window, vlans, src_mac, dst_mac))

    def _dispatch_datagram(self, buf: bytes, off: int, caplen: int, ts: float, l4: int, alen: int, sport: int,
                           dport: int, vlans: tuple[int, ...], ethernet: bool, payload: bytes) -> None:
        """A UDP datagram of the fast path's shape that no known flow took: whole, as a Packet."""
        a = l4 - 2 * alen
        src_mac, dst_mac = (buf[off + 6 : off + 12], buf[off : off + 6]) if ethernet else _NO_MACS
        self._dispatch(Packet(ts, caplen, 4 if alen == 4 else 6, buf[a : a + alen], buf[a + alen : l4],
                              IPPROTO_UDP, sport, dport, payload, 0, 0, 0, 0, vlans, src_mac, dst_mac))

    # A dispatcher may take segments and datagrams of connections it knows without a Packet: it then has
    # `tcp_segment(key, ts, flags, seq, payload)`, `udp_datagram(key, ts, sport, dport, payload)` and
    # `icmp_message(key, ts, 0, 0, message)`, returning False for packets it wants whole (`handle`). The
    # key is the addresses and the ports as they sit in the headers (ICMP: the addresses only).
    @cached_property
    def _known_segment(self) -> Callable[[bytes, float, int, int, bytes], bool] | None:
        return getattr(self.dispatcher, "tcp_segment", None)

    @cached_property
    def _known_datagram(self) -> Callable[[bytes, float, int, int, bytes], bool] | None:
        return getattr(self.dispatcher, "udp_datagram", None)

    @cached_property
    def _known_icmp(self) -> Callable[[bytes, float, int, int, bytes], bool] | None:
        return getattr(self.dispatcher, "icmp_message", None)

    def _probe_wanted(self, d: Decoded) -> bool:
        """A packet on no module's port, with detection on: not of a connection already rejected (a SYN
        starts a new one on those ports)."""
        detector = self._detector
        assert detector is not None
        key = d.src + d.dst + _PORTS.pack(d.sport, d.dport)
        if key not in detector.rejected:
            return True
        return bool(d.proto == IPPROTO_TCP and d.tcp_flags & 0x02 and detector.forget(key))

    def _dispatch(self, pkt: Packet) -> None:
        self.dispatched += 1
        self.dispatcher.handle(pkt)

    # --- the clock --------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Run everything that is due at `now` (flow reports, expiry, module timeouts)."""
        if self.flows is not None:
            self.flows.advance(now)
        if now >= self._next_deadline:
            self.decoder.fragments.expire(now)
            if self.dispatcher is not None:
                self.dispatcher.tick(now)
            self._next_deadline = now + self._tick
        if self.flows is not None and self.flows.next_deadline < self._next_deadline:
            self._next_deadline = self.flows.next_deadline

    def finish(self, now: float | None = None) -> None:
        """End of capture: flush connections and flows (everything still open gets its final event)."""
        if now is None:
            now = self.last_ts if self.last_ts is not None else 0.0
        if self.dispatcher is not None:
            self.dispatcher.flush(now)
        if self.flows is not None:
            self.flows.flush(now)


_NO_MACS: tuple[None, None] = (None, None)


def _no_forget(key: bytes) -> bool:
    return False


def _tcp_health(new: Callable[[bool], Any], flow: Flow, key: bytes, ts: float, flags: int, seq: int, ack: int,
                window: int, plen: int) -> None:
    """TCP health of a packet the flow table accounted itself (a new flow, or the reference decoder's)."""
    tcp = flow.tcp
    if tcp is None:
        tcp = flow.tcp = new(flow.client_is_source)
    tcp.update(0 if key == flow.key else 1, ts, flags, seq, ack, window, plen)


def _packet_from(d: Decoded, ts: float) -> Packet:
    return Packet(ts, d.wire_len, d.ip_version, d.src, d.dst, d.proto, d.sport, d.dport, d.data[d.poff : d.pend],
                  d.tcp_flags, d.seq, d.ack, d.window, d.vlans, d.src_mac, d.dst_mac, d.truncated)
