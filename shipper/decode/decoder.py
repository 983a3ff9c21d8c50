"""The general packet decoder: link layer, IPv4/IPv6 (with fragments), TCP, UDP, ICMP, anything else.

This is the reference decoder. The capture engine has a fused fast path for the most common frame
shapes (see `shipper/engine.py`); tests check that both agree. Every frame that cannot be decoded is
counted under a reason in `Decoder.malformed` (or `non_ip`), and `decode` returns None; nothing raises.
"""

from __future__ import annotations

from collections import Counter

from .fragments import FragmentReassembler
from .headers import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ICMP_HEADER,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV4_HEADER,
    IPV6_EXTENSION_HEADERS,
    IPV6_HEADER,
    TCP_HEADER,
    U16,
    U32,
    U32_LE,
    UDP_HEADER,
    VLAN_ETHERTYPES,
)

__all__ = ["Decoded", "Decoder", "LINKTYPES", "UnsupportedLinkType"]

# pcap LINKTYPE_* values this decoder understands.
LINK_NULL = 0
LINK_ETHERNET = 1
LINK_RAW_OPENBSD = 12
LINK_RAW_BSDOS = 14
LINK_RAW = 101
LINK_LOOP = 108
LINK_LINUX_SLL = 113
LINK_IPV4 = 228
LINK_IPV6 = 229
LINK_LINUX_SLL2 = 276

LINKTYPES = {
    LINK_NULL: "null",
    LINK_ETHERNET: "ethernet",
    LINK_RAW_OPENBSD: "raw",
    LINK_RAW_BSDOS: "raw",
    LINK_RAW: "raw",
    LINK_LOOP: "loop",
    LINK_LINUX_SLL: "linux-sll",
    LINK_IPV4: "ipv4",
    LINK_IPV6: "ipv6",
    LINK_LINUX_SLL2: "linux-sll2",
}

MAX_VLAN_TAGS = 8
MAX_IPV6_EXTENSION_HEADERS = 16
_BSD_AF_INET6 = frozenset({10, 24, 28, 30})  # Linux, NetBSD/OpenBSD, FreeBSD, Darwin


class UnsupportedLinkType(ValueError):
    def __init__(self, linktype: int) -> None:
        super().__init__(f"unsupported link type {linktype} (supported: {sorted(LINKTYPES)})")
        self.linktype = linktype


class Decoded:
    """One decoded packet. `data[poff:pend]` is the transport payload (for ICMP: the whole message)."""

    __slots__ = (
        "ip_version",
        "proto",
        "src",
        "dst",
        "sport",
        "dport",
        "tcp_flags",
        "seq",
        "ack",
        "window",
        "icmp_type",
        "icmp_code",
        "icmp_id",
        "vlans",
        "src_mac",
        "dst_mac",
        "data",
        "poff",
        "pend",
        "wire_len",
        "truncated",
    )

    def __init__(self) -> None:
        self.ip_version = 0
        self.proto = 0
        self.src = b""
        self.dst = b""
        self.sport = 0
        self.dport = 0
        self.tcp_flags = 0
        self.seq = 0
        self.ack = 0
        self.window = 0
        self.icmp_type = -1
        self.icmp_code = -1
        self.icmp_id = -1
        self.vlans: tuple[int, ...] = ()
        self.src_mac: bytes | None = None
        self.dst_mac: bytes | None = None
        self.data: bytes = b""
        self.poff = 0
        self.pend = 0
        self.wire_len = 0
        self.truncated = False

    @property
    def payload(self) -> bytes:
        return self.data[self.poff : self.pend]


class Decoder:
    """Decodes frames of one link type. Counters: `decoded`, `non_ip`, `malformed[reason]`."""

    def __init__(self, linktype: int, fragments: FragmentReassembler | None = None) -> None:
        if linktype not in LINKTYPES:
            raise UnsupportedLinkType(linktype)
        self.linktype = linktype
        # not `or`: an empty reassembler is falsy (it has __len__), and the caller's limits would be lost
        self.fragments = fragments if fragments is not None else FragmentReassembler()
        self.decoded = 0
        self.non_ip = 0
        self.fragments_pending = 0
        self.snaplen_truncated = 0
        self.malformed: Counter[str] = Counter()

    def stats(self) -> dict[str, object]:
        return {
            "decoded": self.decoded,
            "non_ip": self.non_ip,
            "fragments_pending": self.fragments_pending,
            "snaplen_truncated": self.snaplen_truncated,
            "malformed": dict(self.malformed),
            "malformed_total": sum(self.malformed.values()),
            "ip_fragments": self.fragments.stats(),
        }

    def _bad(self, reason: str) -> None:
        self.malformed[reason] += 1

    # --- link layer -------------------------------------------------------------------------------

    def decode(self, buf: bytes, off: int, caplen: int, wire_len: int, ts: float) -> Decoded | None:
        """Decode the frame `buf[off:off+caplen]`; None if it is not a decodable IP packet (counted)."""
        end = off + caplen
        linktype = self.linktype
        pkt = Decoded()
        pkt.wire_len = wire_len
        if linktype == LINK_ETHERNET:
            if caplen < 14:
                self._bad("truncated_ethernet")
                return None
            pkt.dst_mac = buf[off : off + 6]
            pkt.src_mac = buf[off + 6 : off + 12]
            ethertype = (buf[off + 12] << 8) | buf[off + 13]
            return self._network(pkt, buf, ethertype, off + 14, end, off, ts)
        if linktype == LINK_LINUX_SLL:
            if caplen < 16:
                self._bad("truncated_linux_sll")
                return None
            return self._network(pkt, buf, U16.unpack_from(buf, off + 14)[0], off + 16, end, off, ts)
        if linktype == LINK_LINUX_SLL2:
            if caplen < 20:
                self._bad("truncated_linux_sll2")
                return None
            return self._network(pkt, buf, U16.unpack_from(buf, off)[0], off + 20, end, off, ts)
        if linktype in (LINK_NULL, LINK_LOOP):
            if caplen < 4:
                self._bad("truncated_loopback")
                return None
            family = U32.unpack_from(buf, off)[0] if linktype == LINK_LOOP else U32_LE.unpack_from(buf, off)[0]
            if family > 0xFFFF:  # written by a host of the other byte order
                family = int.from_bytes(buf[off : off + 4], "big" if linktype == LINK_NULL else "little")
            if family == 2:
                return self._network(pkt, buf, ETHERTYPE_IPV4, off + 4, end, off, ts)
            if family in _BSD_AF_INET6:
                return self._network(pkt, buf, ETHERTYPE_IPV6, off + 4, end, off, ts)
            self.non_ip += 1
            return None
        # raw IP: the version nibble says which
        if caplen < 1:
            self._bad("truncated_ip")
            return None
        version = buf[off] >> 4
        if linktype == LINK_IPV4 or (linktype != LINK_IPV6 and version == 4):
            return self._network(pkt, buf, ETHERTYPE_IPV4, off, end, off, ts)
        if linktype == LINK_IPV6 or version == 6:
            return self._network(pkt, buf, ETHERTYPE_IPV6, off, end, off, ts)
        self._bad("bad_ip_version")
        return None

    def _network(self, pkt: Decoded, buf: bytes, ethertype: int, p: int, end: int, frame: int,
                 ts: float) -> Decoded | None:
        if ethertype in VLAN_ETHERTYPES:  # after Ethernet, and after Linux cooked headers too
            vlans: list[int] = []
            while ethertype in VLAN_ETHERTYPES:
                if p + 4 > end:
                    self._bad("truncated_vlan")
                    return None
                if len(vlans) == MAX_VLAN_TAGS:
                    self._bad("too_many_vlan_tags")
                    return None
                vlans.append(U16.unpack_from(buf, p)[0] & 0x0FFF)
                ethertype = U16.unpack_from(buf, p + 2)[0]
                p += 4
            pkt.vlans = tuple(vlans)
        if ethertype == ETHERTYPE_IPV4:
            return self._ipv4(pkt, buf, p, end, frame, ts)
        if ethertype == ETHERTYPE_IPV6:
            return self._ipv6(pkt, buf, p, end, frame, ts)
        self.non_ip += 1
        return None

    # --- IP ---------------------------------------------------------------------------------------

    def _ipv4(self, pkt: Decoded, buf: bytes, p: int, end: int, frame: int, ts: float) -> Decoded | None:
        if end - p < 20:
            self._bad("truncated_ipv4")
            return None
        vihl, _tos, total, ident, frag, _ttl, proto, _csum, src, dst = IPV4_HEADER.unpack_from(buf, p)
        if vihl >> 4 != 4:
            self._bad("bad_ip_version")
            return None
        ihl = (vihl & 0x0F) * 4
        if ihl < 20:
            self._bad("bad_ipv4_header_length")
            return None
        if total < ihl:
            self._bad("bad_ipv4_total_length")
            return None
        if end - p < ihl:
            self._bad("truncated_ipv4")
            return None
        ip_end = p + total
        if ip_end > end:
            ip_end = end
            self._cut(pkt, (p - frame) + total)
        pkt.ip_version = 4
        pkt.proto = proto
        pkt.src = src
        pkt.dst = dst
        l4 = p + ihl
        if frag & 0x3FFF:  # more-fragments set or a non-zero offset
            if pkt.truncated:
                self._bad("truncated_fragment")
                return None
            whole = self.fragments.add((4, src, dst, ident, proto), (frag & 0x1FFF) * 8, bool(frag & 0x2000),
                                       buf[l4:ip_end], ts)
            if whole is None:
                self.fragments_pending += 1
                return None
            return self._transport(pkt, whole, 0, len(whole), proto)
        return self._transport(pkt, buf, l4, ip_end, proto)

    def _ipv6(self, pkt: Decoded, buf: bytes, p: int, end: int, frame: int, ts: float) -> Decoded | None:
        if end - p < 40:
            self._bad("truncated_ipv6")
            return None
        vcf, payload_len, next_header, _hops, src, dst = IPV6_HEADER.unpack_from(buf, p)
        if vcf >> 28 != 6:
            self._bad("bad_ip_version")
            return None
        pkt.ip_version = 6
        pkt.src = src
        pkt.dst = dst
        ip_end = p + 40 + payload_len if payload_len else end  # 0: jumbogram, length in hop-by-hop
        if ip_end > end:
            ip_end = end
            self._cut(pkt, (p - frame) + 40 + payload_len)
        q = p + 40
        for _ in range(MAX_IPV6_EXTENSION_HEADERS + 1):  # the last round must find the transport
            if next_header in IPV6_EXTENSION_HEADERS or next_header == 51:
                if q + 2 > ip_end:
                    self._bad("truncated_ipv6_extension")
                    return None
                length = (buf[q + 1] + 2) * 4 if next_header == 51 else (buf[q + 1] + 1) * 8
                next_header = buf[q]
                q += length
                if q > ip_end:
                    self._bad("truncated_ipv6_extension")
                    return None
                continue
            if next_header == 44:  # fragment header
                if q + 8 > ip_end:
                    self._bad("truncated_ipv6_extension")
                    return None
                if pkt.truncated:
                    self._bad("truncated_fragment")
                    return None
                inner = buf[q]
                offset_flags = U16.unpack_from(buf, q + 2)[0]
                ident = U32.unpack_from(buf, q + 4)[0]
                offset, more = offset_flags & 0xFFF8, bool(offset_flags & 1)
                pkt.proto = inner
                if offset == 0 and not more:  # atomic fragment (RFC 6946)
                    next_header = inner
                    q += 8
                    continue
                whole = self.fragments.add((6, src, dst, ident, inner), offset, more, buf[q + 8 : ip_end], ts)
                if whole is None:
                    self.fragments_pending += 1
                    return None
                return self._ipv6_reassembled(pkt, whole, inner)
            break
        else:
            self._bad("too_many_ipv6_extensions")
            return None
        pkt.proto = next_header
        return self._transport(pkt, buf, q, ip_end, next_header)

    def _ipv6_reassembled(self, pkt: Decoded, whole: bytes, next_header: int) -> Decoded | None:
        # Extension headers may follow the fragment header inside the reassembled payload.
        q = 0
        for _ in range(MAX_IPV6_EXTENSION_HEADERS + 1):
            if next_header in IPV6_EXTENSION_HEADERS or next_header == 51:
                if q + 2 > len(whole):
                    self._bad("truncated_ipv6_extension")
                    return None
                length = (whole[q + 1] + 2) * 4 if next_header == 51 else (whole[q + 1] + 1) * 8
                next_header = whole[q]
                q += length
                continue
            break
        else:
            self._bad("too_many_ipv6_extensions")
            return None
        if q > len(whole):
            self._bad("truncated_ipv6_extension")
            return None
        pkt.proto = next_header
        return self._transport(pkt, whole, q, len(whole), next_header)

    def _cut(self, pkt: Decoded, wire_len_from_ip: int) -> None:
        pkt.truncated = True
        self.snaplen_truncated += 1
        if wire_len_from_ip > pkt.wire_len:
            pkt.wire_len = wire_len_from_ip

    # --- transport --------------------------------------------------------------------------------

    def _transport(self, pkt: Decoded, buf: bytes, l4: int, l4_end: int, proto: int) -> Decoded | None:
        avail = l4_end - l4
        pkt.data = buf
        if proto == IPPROTO_TCP:
            if avail < 20:
                self._bad("truncated_tcp")
                return None
            sport, dport, seq, ack, offset, flags, window = TCP_HEADER.unpack_from(buf, l4)
            doff = (offset >> 4) * 4
            if doff < 20:
                self._bad("bad_tcp_data_offset")
                return None
            if doff > avail:
                if not pkt.truncated:
                    self._bad("bad_tcp_data_offset")
                    return None
                doff = avail  # options cut by the snaplen
            pkt.sport, pkt.dport, pkt.seq, pkt.ack, pkt.tcp_flags, pkt.window = sport, dport, seq, ack, flags, window
            pkt.poff, pkt.pend = l4 + doff, l4_end
        elif proto == IPPROTO_UDP:
            if avail < 8:
                self._bad("truncated_udp")
                return None
            sport, dport, length, _ = UDP_HEADER.unpack_from(buf, l4)
            if length < 8 or (length > avail and not pkt.truncated):
                self._bad("bad_udp_length")
                return None
            pkt.sport, pkt.dport = sport, dport
            pkt.poff, pkt.pend = l4 + 8, min(l4 + length, l4_end)
        elif proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            if avail < 8:
                self._bad("truncated_icmp")
                return None
            icmp_type, code, _csum, ident, _seq = ICMP_HEADER.unpack_from(buf, l4)
            pkt.icmp_type, pkt.icmp_code, pkt.icmp_id = icmp_type, code, ident
            pkt.poff, pkt.pend = l4, l4_end
        elif proto == IPPROTO_SCTP:
            if avail < 12:
                self._bad("truncated_sctp")
                return None
            pkt.sport, pkt.dport = U16.unpack_from(buf, l4)[0], U16.unpack_from(buf, l4 + 2)[0]
            pkt.poff, pkt.pend = l4 + 12, l4_end
        else:
            pkt.poff, pkt.pend = l4, l4_end
        self.decoded += 1
        return pkt


def tcp_options(options: bytes) -> list[tuple[int, bytes]]:
    """Split raw TCP options into (kind, value) pairs; a malformed tail ends the list."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(options)
    while i < n:
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= n:
            break
        length = options[i + 1]
        if length < 2 or i + length > n:
            break
        out.append((kind, options[i + 2 : i + length]))
        i += length
    return out
