"""Frames that cannot be decoded are counted under one reason each; decode returns None, never raises."""

from __future__ import annotations

import struct

import pytest
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import (
    LINK_ETHERNET,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    Decoder,
)
from packetshipper.engine import Engine
from test_decode_framing import (
    V4_CLIENT,
    V4_SERVER,
    V6_CLIENT,
    V6_SERVER,
    ipv6_fragment_header,
    sll,
    sll2,
    tcp4,
    udp4,
)

ETH_HEADER = g.ethernet(b"")  # 14 bytes, ethertype IPv4


def patched(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


def eth(packet: bytes) -> bytes:
    return g.ethernet(packet)


def tcp_with_data_offset(words: int) -> bytes:
    packet = tcp4(b"hello")
    return patched(packet, 20 + 12, bytes([words << 4]))


def udp_with_length(length: int) -> bytes:
    return patched(udp4(b"query"), 20 + 4, struct.pack("!H", length))


def ipv4_with(proto: int, payload: bytes) -> bytes:
    return g.ipv4(V4_CLIENT, V4_SERVER, proto, payload)


CASES = [
    ("truncated_ethernet", LINK_ETHERNET, ETH_HEADER[:13]),
    ("truncated_vlan", LINK_ETHERNET, ETH_HEADER[:12] + b"\x81\x00\x00"),
    ("too_many_vlan_tags", LINK_ETHERNET, ETH_HEADER[:12] + b"\x81\x00\x00\x01" * 9 + b"\x08\x00" + tcp4()),
    ("truncated_linux_sll", LINK_LINUX_SLL, sll(b"")[:15]),
    ("truncated_linux_sll2", LINK_LINUX_SLL2, sll2(b"")[:19]),
    ("truncated_loopback", LINK_NULL, b"\x02\x00\x00"),
    ("truncated_loopback", LINK_LOOP, b""),
    ("truncated_ip", LINK_RAW, b""),
    ("bad_ip_version", LINK_ETHERNET, eth(patched(tcp4(), 0, b"\x65"))),  # ethertype IPv4, version 6
    ("bad_ip_version", LINK_ETHERNET, g.ethernet(tcp4(), ethertype=0x86DD)),  # ethertype IPv6, version 4
    ("truncated_ipv4", LINK_ETHERNET, eth(tcp4()[:19])),
    ("truncated_ipv4", LINK_RAW, tcp4(ip_options=bytes(40))[:40]),  # IHL 60 bytes, 40 present
    ("bad_ipv4_header_length", LINK_ETHERNET, eth(patched(tcp4(), 0, b"\x44"))),  # IHL 16 bytes
    ("bad_ipv4_total_length", LINK_ETHERNET, eth(patched(tcp4(), 2, b"\x00\x13"))),  # 19 < IHL
    ("truncated_ipv6", LINK_RAW, g.ipv6(V6_CLIENT, V6_SERVER, 6, b"")[:39]),
    ("truncated_ipv6_extension", LINK_RAW, g.ipv6(V6_CLIENT, V6_SERVER, 0, b"\x06")),
    ("truncated_ipv6_extension", LINK_RAW, g.ipv6(V6_CLIENT, V6_SERVER, 44, ipv6_fragment_header(17, 8, True, 1)[:7])),
    ("truncated_tcp", LINK_ETHERNET, eth(ipv4_with(6, g.tcp(V4_CLIENT, V4_SERVER, 1, 2)[:19]))),
    ("bad_tcp_data_offset", LINK_ETHERNET, eth(tcp_with_data_offset(4))),  # 16 bytes < 20
    ("bad_tcp_data_offset", LINK_ETHERNET, eth(tcp_with_data_offset(15))),  # 60 bytes > 25 present
    ("truncated_udp", LINK_ETHERNET, eth(ipv4_with(17, b"\x00\x35\x00\x35\x00\x08\x00"))),
    ("bad_udp_length", LINK_ETHERNET, eth(udp_with_length(7))),
    ("bad_udp_length", LINK_ETHERNET, eth(udp_with_length(14))),  # 13 bytes present
    ("truncated_icmp", LINK_ETHERNET, eth(ipv4_with(1, g.icmp_echo(1, 1)[:7]))),
    ("truncated_sctp", LINK_ETHERNET, eth(ipv4_with(132, bytes(11)))),
]
CASE_IDS = [f"{reason}-{i}" for i, (reason, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("reason", "linktype", "frame"), CASES, ids=CASE_IDS)
def test_each_malformed_frame_is_counted_under_its_reason(reason: str, linktype: int, frame: bytes) -> None:
    decoder = Decoder(linktype)
    assert decoder.decode(frame, 0, len(frame), len(frame), 1.0) is None
    assert decoder.malformed == {reason: 1}
    stats = decoder.stats()
    assert (stats["decoded"], stats["non_ip"], stats["malformed_total"]) == (0, 0, 1)


@pytest.mark.parametrize(("reason", "linktype", "frame"), CASES, ids=CASE_IDS)
def test_a_malformed_frame_in_a_batch_is_counted_and_the_next_frame_still_decodes(
        reason: str, linktype: int, frame: bytes) -> None:
    good = {LINK_ETHERNET: eth(udp4()), LINK_LINUX_SLL: sll(udp4()), LINK_LINUX_SLL2: sll2(udp4()),
            LINK_NULL: b"\x02\x00\x00\x00" + udp4(), LINK_LOOP: b"\x00\x00\x00\x02" + udp4(),
            LINK_RAW: udp4()}[linktype]
    buf = frame + good
    meta = struct.pack("=IIII", 1, 0, 0, len(frame)) + struct.pack("=IIII", 1, 1, len(frame), len(good))
    engine = Engine(Decoder(linktype))
    engine.process_batch(buf, meta)
    stats = engine.stats()
    assert stats["malformed"] == {reason: 1}
    assert stats["received"] == 2
    assert stats["fast_path"] + stats["decoded"] == 1


def test_bad_tcp_data_offset_is_not_mistaken_for_snaplen_truncation() -> None:
    decoder = Decoder(LINK_ETHERNET)
    frame = eth(tcp_with_data_offset(15))
    decoder.decode(frame, 0, len(frame), len(frame), 1.0)
    assert decoder.snaplen_truncated == 0


def test_frame_bytes_outside_the_frame_are_never_read() -> None:
    # The frame ends inside the TCP header; the bytes after it in the buffer would complete it.
    whole = eth(tcp4())
    decoder = Decoder(LINK_ETHERNET)
    assert decoder.decode(whole, 0, 40, 40, 1.0) is None
    assert decoder.malformed == {"truncated_tcp": 1}
