"""The fast path's decisions at the edges: every IP length, transport length and capture cut around the
headers, each frame alone in its batch so that a read past its end would raise. Both engines must
agree on every one of them."""

from __future__ import annotations

import struct

import pytest
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL
from packetshipper.engine import Engine
from test_decode_framing import sll, tcp4, tcp6, udp4, udp6
from test_engine_fast_path_equivalence import META, T0, ReferenceEngine, run

BASES = {
    "tcp4": (tcp4(b"abcdefgh"), 0x0800),
    "udp4": (udp4(b"abcdefgh"), 0x0800),
    "tcp6": (tcp6(b"abcdefgh"), 0x86DD),
    "udp6": (udp6(b"abcdefgh"), 0x86DD),
}
LINKS = {
    "ethernet": (LINK_ETHERNET, lambda packet, ethertype: g.ethernet(packet, ethertype=ethertype)),
    "vlan": (LINK_ETHERNET, lambda packet, ethertype: g.ethernet(packet, ethertype=ethertype, vlans=(9,))),
    "sll": (LINK_LINUX_SLL, lambda packet, ethertype: sll(packet, ethertype)),
}
IP_LENGTHS = [0, 1, 4, 7, 8, 19, 20, 27, 28, 40, 47, 48, 59, 60, 0xFFFF]


def variants(packet: bytes, ip_length: int | None) -> list[bytes]:
    """`packet` with its IP length set (None: as built), and each transport length field at its edges."""
    v6 = packet[0] >> 4 == 6
    out = []
    base = bytearray(packet)
    if ip_length is not None:
        at = 4 if v6 else 2
        base[at : at + 2] = struct.pack("!H", ip_length)
    l4 = 40 if v6 else 20
    if base[6 if v6 else 9] == 6:
        for words in (0, 4, 5, 6, 7, 15):
            variant = bytearray(base)
            variant[l4 + 12] = words << 4
            out.append(bytes(variant))
    else:
        for length in (0, 7, 8, 15, 16, 17, 0xFFFF):
            variant = bytearray(base)
            variant[l4 + 4 : l4 + 6] = struct.pack("!H", length)
            out.append(bytes(variant))
    return out


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("ip_length", [None, *IP_LENGTHS])
def test_both_engines_agree_on_every_edge_and_cut(link: str, base: str, ip_length: int | None) -> None:
    linktype, frame_of = LINKS[link]
    packet, ethertype = BASES[base]
    batches = []
    ts = T0
    for variant in variants(packet, ip_length):
        frame = frame_of(variant, ethertype)
        for caplen in range(len(frame) - len(packet) + 18, len(frame) + 1):
            ts += 1
            batches.append((frame[:caplen], META.pack(ts, 0, 0, caplen)))  # the buffer ends with the frame
    fast_reports, fast_packets, fast = run(Engine, linktype, batches)
    ref_reports, ref_packets, _ref = run(ReferenceEngine, linktype, batches)
    assert fast_reports == ref_reports
    assert fast_packets == ref_packets
    stats = fast.stats()
    assert stats["received"] == len(batches)
    assert (stats["fast_path"] + stats["decoded"] + stats["non_ip"] + stats["malformed_total"]
            + stats["fragments_pending"]) == len(batches)
