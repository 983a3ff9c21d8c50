"""The reference decoder reads every supported link layer, VLAN tags included, down to TCP or UDP."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import (
    LINK_ETHERNET,
    LINK_IPV4,
    LINK_IPV6,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    LINK_RAW_BSDOS,
    LINK_RAW_OPENBSD,
    Decoded,
    Decoder,
    UnsupportedLinkType,
)
from test_decode_framing import (
    SLL_MAC,
    V4_CLIENT,
    V4_SERVER,
    V6_CLIENT,
    V6_SERVER,
    framed,
    loop,
    null,
    sll,
    sll2,
    tcp4,
    tcp6,
    udp4,
    udp6,
)

ALL_LINKTYPES = [LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL, LINK_LOOP, LINK_RAW,
                 LINK_RAW_OPENBSD, LINK_RAW_BSDOS]
ETH_SRC = bytes.fromhex("020000000001")  # pcapgen's defaults
ETH_DST = bytes.fromhex("020000000002")


def addr(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def decode_one(linktype: int, frame: bytes) -> tuple[Decoder, Decoded | None]:
    decoder = Decoder(linktype)
    return decoder, decoder.decode(frame, 0, len(frame), len(frame), 12.5)


def assert_tcp4(d: Decoded | None) -> None:
    assert d is not None
    assert (d.ip_version, d.proto) == (4, 6)
    assert (d.src, d.dst) == (addr(V4_CLIENT), addr(V4_SERVER))
    assert (d.sport, d.dport) == (40000, 80)
    assert (d.seq, d.ack, d.window, d.tcp_flags) == (1000, 2000, 4096, 0x18)  # PSH|ACK
    assert d.payload == b"hello"
    assert not d.truncated


@pytest.mark.parametrize("linktype", ALL_LINKTYPES)
def test_ipv4_tcp_decodes_on_every_link_type(linktype: int) -> None:
    frame = framed(linktype, tcp4(b"hello"))
    decoder, d = decode_one(linktype, frame)
    assert_tcp4(d)
    assert d is not None and d.wire_len == len(frame)
    assert decoder.decoded == 1
    assert decoder.stats()["malformed_total"] == 0


@pytest.mark.parametrize("linktype", ALL_LINKTYPES)
def test_ipv6_udp_decodes_on_every_link_type(linktype: int) -> None:
    decoder, d = decode_one(linktype, framed(linktype, udp6(b"query")))
    assert d is not None
    assert (d.ip_version, d.proto, d.sport, d.dport) == (6, 17, 40000, 53)
    assert (d.src, d.dst) == (addr(V6_CLIENT), addr(V6_SERVER))
    assert d.payload == b"query"
    assert decoder.decoded == 1


def test_raw_ipv4_and_ipv6_link_types_take_the_packet_as_is() -> None:
    assert_tcp4(decode_one(LINK_IPV4, tcp4(b"hello"))[1])
    d = decode_one(LINK_IPV6, tcp6(b"hello"))[1]
    assert d is not None and (d.ip_version, d.proto, d.payload) == (6, 6, b"hello")


@pytest.mark.parametrize(("linktype", "packet"), [(LINK_IPV4, tcp6()), (LINK_IPV6, tcp4())])
def test_raw_link_types_for_one_ip_version_reject_the_other(linktype: int, packet: bytes) -> None:
    decoder, d = decode_one(linktype, packet)
    assert d is None
    assert decoder.malformed == {"bad_ip_version": 1}


def test_raw_ip_with_an_unknown_version_nibble_is_malformed() -> None:
    decoder, d = decode_one(LINK_RAW, b"\x50" + tcp4()[1:])
    assert d is None
    assert decoder.malformed == {"bad_ip_version": 1}


def test_ethernet_gives_the_macs_and_other_link_types_give_none() -> None:
    d = decode_one(LINK_ETHERNET, g.ethernet(tcp4()))[1]
    assert d is not None and (d.src_mac, d.dst_mac) == (ETH_SRC, ETH_DST)
    for linktype in (LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL, LINK_RAW):
        d = decode_one(linktype, framed(linktype, tcp4()))[1]
        assert d is not None and (d.src_mac, d.dst_mac) == (None, None)


def test_ethernet_padding_after_the_ip_datagram_is_not_payload() -> None:
    frame = g.ethernet(udp4(b"q"))  # 14 + 20 + 8 + 1 = 43 bytes; the wire minimum is 60
    padded = frame + bytes(60 - len(frame))
    decoder, d = decode_one(LINK_ETHERNET, padded)
    assert d is not None and d.payload == b"q"
    assert not d.truncated and d.wire_len == 60


@pytest.mark.parametrize("family", [10, 24, 28, 30])
def test_null_link_knows_each_bsd_value_of_af_inet6(family: int) -> None:
    d = decode_one(LINK_NULL, null(tcp6(), family))[1]
    assert d is not None and d.ip_version == 6


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_null_link_reads_the_family_in_either_byte_order(byteorder: str) -> None:
    assert_tcp4(decode_one(LINK_NULL, null(tcp4(), 2, byteorder))[1])
    d = decode_one(LINK_NULL, null(tcp6(), 30, byteorder))[1]
    assert d is not None and d.ip_version == 6


def test_loop_link_family_is_big_endian() -> None:
    assert_tcp4(decode_one(LINK_LOOP, loop(tcp4()))[1])


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (LINK_ETHERNET, g.ethernet(bytes(28), ethertype=0x0806)),  # ARP
        (LINK_ETHERNET, g.ethernet(bytes(40), ethertype=0x0026)),  # 802.3 length field (LLC)
        (LINK_LINUX_SLL, sll(bytes(28), 0x0806)),
        (LINK_LINUX_SLL2, sll2(bytes(28), 0x0806)),
        (LINK_NULL, null(bytes(40), 7)),  # AF_OSI
        (LINK_LOOP, loop(bytes(40), 7)),
    ],
    ids=["eth-arp", "eth-llc", "sll-arp", "sll2-arp", "null-osi", "loop-osi"],
)
def test_non_ip_frames_are_counted_as_non_ip(linktype: int, frame: bytes) -> None:
    decoder, d = decode_one(linktype, frame)
    assert d is None
    assert decoder.non_ip == 1
    assert decoder.decoded == 0 and not decoder.malformed


def test_sll_frames_address_and_packet_type_do_not_matter() -> None:
    for packet_type in (0, 1, 2, 3, 4):  # to us, broadcast, multicast, another host, outgoing
        assert_tcp4(decode_one(LINK_LINUX_SLL, sll(tcp4(), packet_type=packet_type, address=SLL_MAC[:4]))[1])
        assert_tcp4(decode_one(LINK_LINUX_SLL2, sll2(tcp4(), packet_type=packet_type, ifindex=9))[1])


def test_an_unsupported_link_type_is_refused_up_front_with_its_number() -> None:
    with pytest.raises(UnsupportedLinkType, match="unsupported link type 147") as caught:
        Decoder(147)
    assert caught.value.linktype == 147


# --- VLAN tags -------------------------------------------------------------------------------------


def test_one_802_1q_tag_gives_its_vlan_id() -> None:
    d = decode_one(LINK_ETHERNET, g.ethernet(tcp4(), vlans=(100,)))[1]
    assert_tcp4(d)
    assert d is not None and d.vlans == (100,)


def test_qinq_tags_are_listed_outer_first() -> None:
    frame = g.ethernet(tcp4(), vlans=(10, 20))
    assert frame[12:14] == b"\x88\xa8" and frame[16:18] == b"\x81\x00"  # service tag, then customer tag
    d = decode_one(LINK_ETHERNET, frame)[1]
    assert_tcp4(d)
    assert d is not None and d.vlans == (10, 20)


def test_pre_standard_qinq_tpid_0x9100_is_a_vlan_tag() -> None:
    frame = ETH_DST + ETH_SRC + bytes.fromhex("9100 0005 8100 0006 0800") + tcp4()
    d = decode_one(LINK_ETHERNET, frame)[1]
    assert d is not None and d.vlans == (5, 6)


def test_priority_and_drop_eligible_bits_are_not_part_of_the_vlan_id() -> None:
    # TCI 0xE064: PCP 7, DEI 0, VID 0x064 = 100; TCI 0x1FFF: PCP 0, DEI 1, VID 4095
    frame = ETH_DST + ETH_SRC + bytes.fromhex("88a8 e064 8100 1fff 0800") + tcp4()
    d = decode_one(LINK_ETHERNET, frame)[1]
    assert d is not None and d.vlans == (100, 4095)


def test_untagged_frames_have_no_vlans() -> None:
    d = decode_one(LINK_ETHERNET, g.ethernet(tcp4()))[1]
    assert d is not None and d.vlans == ()


def test_eight_tags_decode_and_a_ninth_is_too_many() -> None:
    eight = ETH_DST + ETH_SRC + bytes.fromhex("8100 0001") * 8 + b"\x08\x00" + tcp4()
    d = decode_one(LINK_ETHERNET, eight)[1]
    assert d is not None and d.vlans == (1,) * 8
    nine = ETH_DST + ETH_SRC + bytes.fromhex("8100 0001") * 9 + b"\x08\x00" + tcp4()
    decoder, d = decode_one(LINK_ETHERNET, nine)
    assert d is None
    assert decoder.malformed == {"too_many_vlan_tags": 1}


def test_vlan_tagged_ipv6_decodes() -> None:
    frame = g.ethernet(udp6(), ethertype=0x86DD, vlans=(7,))
    d = decode_one(LINK_ETHERNET, frame)[1]
    assert d is not None and (d.vlans, d.ip_version, d.dport) == ((7,), 6, 53)


@pytest.mark.parametrize(("linktype", "cooked"), [(LINK_LINUX_SLL, sll), (LINK_LINUX_SLL2, sll2)])
def test_vlan_tags_after_a_linux_cooked_header_are_read(linktype: int, cooked: Callable[[bytes, int], bytes]) -> None:
    # Captures on `any` keep the tag in the packet when the kernel does not strip it.
    tagged = bytes.fromhex("0064 8100 00c8 0800") + tcp4()  # VLAN 100, then VLAN 200, then IPv4
    frame = cooked(tagged, 0x8100)
    d = decode_one(linktype, frame)[1]
    assert_tcp4(d)
    assert d is not None and d.vlans == (100, 200)
