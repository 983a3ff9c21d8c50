"""Fixed wire headers as data: one precompiled struct per header, RFC field names in the comments."""

from __future__ import annotations

import struct

__all__ = [
    "ETHERTYPE_IPV4",
    "ETHERTYPE_IPV6",
    "ETHERTYPE_ARP",
    "VLAN_ETHERTYPES",
    "IPPROTO_ICMP",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IPPROTO_ICMPV6",
    "IPPROTO_SCTP",
    "IPV6_EXTENSION_HEADERS",
    "IPV4_HEADER",
    "IPV6_HEADER",
    "TCP_HEADER",
    "UDP_HEADER",
    "ICMP_HEADER",
    "U16",
    "U32",
    "U32_LE",
    "TRANSPORT_NAMES",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
# 802.1Q, 802.1ad (QinQ service tag) and the pre-standard QinQ tag.
VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132

# Hop-by-hop, routing, destination options, mobility, HIP, shim6. Fragment (44) is handled apart;
# AH (51) has its own length unit; ESP (50) and no-next-header (59) end the chain.
IPV6_EXTENSION_HEADERS = frozenset({0, 43, 60, 135, 139, 140})

# version_ihl, tos, total_length, identification, flags_fragment_offset, ttl, protocol, checksum, src, dst
IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
# version_class_flow, payload_length, next_header, hop_limit, src, dst
IPV6_HEADER = struct.Struct("!IHBB16s16s")
# src_port, dst_port, seq, ack, data_offset_reserved, flags, window
TCP_HEADER = struct.Struct("!HHIIBBH")
# src_port, dst_port, length, checksum
UDP_HEADER = struct.Struct("!HHHH")
# type, code, checksum, rest-of-header (identifier and sequence for echo)
ICMP_HEADER = struct.Struct("!BBHHH")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U32_LE = struct.Struct("<I")

TRANSPORT_NAMES = {
    IPPROTO_TCP: "tcp",
    IPPROTO_UDP: "udp",
    IPPROTO_ICMP: "icmp",
    IPPROTO_ICMPV6: "ipv6-icmp",
    IPPROTO_SCTP: "sctp",
    2: "igmp",
    47: "gre",
    50: "esp",
    51: "ah",
    89: "ospf",
    103: "pim",
    112: "vrrp",
}
