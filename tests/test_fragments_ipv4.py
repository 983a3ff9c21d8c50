"""IPv4 fragments are reassembled by the decoder: in order, out of order, with duplicates and overlaps."""

from __future__ import annotations

import ipaddress

from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoded, Decoder
from test_decode_framing import V4_CLIENT, V4_SERVER, ipv4_fragments

BODY = bytes(range(256)) * 12  # 3072 bytes: with the UDP header 3080, three fragments of 1480
DATAGRAM = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, BODY)


def frames(datagram: bytes = DATAGRAM, size: int = 1480, ident: int = 0x1234) -> list[bytes]:
    return [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, size, ident)]


def feed(decoder: Decoder, batch: list[bytes], ts: float = 10.0) -> list[Decoded | None]:
    return [decoder.decode(f, 0, len(f), len(f), ts + i * 0.001) for i, f in enumerate(batch)]


def assert_whole_udp(d: Decoded | None) -> None:
    assert d is not None
    assert (d.ip_version, d.proto, d.sport, d.dport) == (4, 17, 5000, 53)
    assert d.src == ipaddress.ip_address(V4_CLIENT).packed
    assert d.payload == BODY


def test_the_fragments_have_the_layout_of_rfc_791() -> None:
    pieces = frames()
    assert [len(f) - 14 - 20 for f in pieces] == [1480, 1480, 120]
    assert [f[20:22].hex() for f in pieces] == ["2000", "20b9", "0172"]  # MF|0, MF|185, 370


def test_in_order_fragments_give_one_datagram_on_the_last() -> None:
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, frames())
    assert results[:2] == [None, None]
    assert_whole_udp(results[2])
    assert decoder.fragments_pending == 2 and decoder.decoded == 1
    stats = decoder.fragments.stats()
    assert (stats["fragments"], stats["reassembled"], stats["in_progress"]) == (3, 1, 0)


def test_out_of_order_fragments_complete_on_whichever_fills_the_last_hole() -> None:
    first, middle, last = frames()
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [last, first, middle])
    assert results[:2] == [None, None]
    assert_whole_udp(results[2])


def test_duplicate_fragments_are_absorbed() -> None:
    first, middle, last = frames()
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [first, first, middle, last])
    assert results[:3] == [None, None, None]
    assert_whole_udp(results[3])
    assert decoder.fragments.stats()["reassembled"] == 1 and len(decoder.fragments) == 0


def test_overlapping_fragments_reassemble_to_the_same_bytes() -> None:
    # 3080 bytes cut at 0..1600 and 1480..3080: 120 bytes sent twice.
    head = g.ipv4(V4_CLIENT, V4_SERVER, 17, DATAGRAM[:1600], ident=9, flags_fragment=0x2000)
    tail = g.ipv4(V4_CLIENT, V4_SERVER, 17, DATAGRAM[1480:], ident=9, flags_fragment=1480 // 8)
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [g.ethernet(tail), g.ethernet(head)])
    assert results[0] is None
    assert_whole_udp(results[1])


def test_interleaved_datagrams_are_kept_apart_by_identification() -> None:
    a = frames(ident=1)
    other_body = g.udp(V4_CLIENT, V4_SERVER, 6000, 53, b"x" * 2000)
    b = frames(other_body, ident=2)
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [a[0], b[0], a[1], b[1], a[2]])
    assert results[:3] == [None] * 3
    b_whole = results[3]  # b is two fragments long
    assert b_whole is not None and (b_whole.sport, b_whole.payload) == (6000, b"x" * 2000)
    assert_whole_udp(results[4])
    assert len(decoder.fragments) == 0
    assert decoder.fragments.stats()["reassembled"] == 2


def test_a_fragmented_tcp_segment_is_reassembled_into_tcp() -> None:
    segment = g.tcp(V4_CLIENT, V4_SERVER, 40000, 80, b"GET / HTTP/1.1\r\n" * 100, flags="PA", seq=5)
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 6, segment, 800, 3)])
    d = results[-1]
    assert d is not None and (d.proto, d.sport, d.dport, d.seq, d.tcp_flags) == (6, 40000, 80, 5, 0x18)
    assert d.payload == b"GET / HTTP/1.1\r\n" * 100


def test_reassembled_datagram_keeps_the_last_frames_link_details() -> None:
    pieces = [g.ethernet(p, vlans=(42,)) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, DATAGRAM, 1480, 5)]
    d = feed(Decoder(LINK_ETHERNET), pieces)[-1]
    assert d is not None and d.vlans == (42,)
    assert d.wire_len == len(pieces[-1])


def test_the_df_bit_alone_is_not_a_fragment() -> None:
    packet = g.ipv4(V4_CLIENT, V4_SERVER, 17, g.udp(V4_CLIENT, V4_SERVER, 1, 2, b"x"), flags_fragment=0x4000)
    decoder = Decoder(LINK_ETHERNET)
    d = feed(decoder, [g.ethernet(packet)])[0]
    assert d is not None and d.payload == b"x"
    assert decoder.fragments.stats()["fragments"] == 0
