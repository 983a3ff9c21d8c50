"""IPv6 fragments (RFC 8200 4.5) are reassembled, with extension headers before and after the fragment
header."""

from __future__ import annotations

from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoded, Decoder
from test_decode_framing import V6_CLIENT, V6_SERVER, ipv4_fragments, ipv6_extension, ipv6_fragments

BODY = bytes(range(256)) * 12
DATAGRAM = g.udp(V6_CLIENT, V6_SERVER, 5000, 53, BODY)  # 3080 bytes: pieces of 1448, 1448, 184


def frames(fragmentable: bytes = DATAGRAM, next_header: int = 17, ident: int = 0xABCD,
           unfragmentable: bytes = b"", first_header: int = 44) -> list[bytes]:
    packets = ipv6_fragments(V6_CLIENT, V6_SERVER, next_header, fragmentable, 1448, ident, unfragmentable,
                             first_header)
    return [g.ethernet(p, ethertype=0x86DD) for p in packets]


def feed(decoder: Decoder, batch: list[bytes]) -> list[Decoded | None]:
    return [decoder.decode(f, 0, len(f), len(f), 5.0 + i) for i, f in enumerate(batch)]


def assert_whole_udp(d: Decoded | None) -> None:
    assert d is not None
    assert (d.ip_version, d.proto, d.sport, d.dport, d.payload) == (6, 17, 5000, 53, BODY)


def test_in_order_fragments_reassemble_on_the_last() -> None:
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, frames())
    assert results[:2] == [None, None]
    assert_whole_udp(results[2])
    assert decoder.fragments_pending == 2 and decoder.decoded == 1
    assert decoder.fragments.stats()["reassembled"] == 1


def test_out_of_order_and_duplicate_fragments_reassemble() -> None:
    first, middle, last = frames()
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [middle, last, middle, first])
    assert results[:3] == [None] * 3
    assert_whole_udp(results[3])


def test_hop_by_hop_before_the_fragment_header_is_skipped() -> None:
    hop_by_hop = ipv6_extension(44, bytes([5, 2, 0, 0]))  # router alert; next header: fragment
    results = feed(Decoder(LINK_ETHERNET), frames(unfragmentable=hop_by_hop, first_header=0))
    assert_whole_udp(results[-1])


def test_destination_options_inside_the_fragmentable_part_are_skipped_after_reassembly() -> None:
    fragmentable = ipv6_extension(17, bytes(6)) + DATAGRAM
    results = feed(Decoder(LINK_ETHERNET), frames(fragmentable, next_header=60))
    assert_whole_udp(results[-1])


def test_ipv4_and_ipv6_fragments_with_equal_identification_do_not_mix() -> None:
    v4_datagram = g.udp("10.0.0.1", "10.0.0.2", 7000, 53, b"v4" * 1000)
    v4 = [g.ethernet(p) for p in ipv4_fragments("10.0.0.1", "10.0.0.2", 17, v4_datagram, 1480, 0xABCD)]
    v6 = frames(ident=0xABCD)
    decoder = Decoder(LINK_ETHERNET)
    results = feed(decoder, [v4[0], v6[0], v6[1], v4[1], v6[2]])
    whole_v4 = results[3]
    assert whole_v4 is not None and (whole_v4.ip_version, whole_v4.payload) == (4, b"v4" * 1000)
    assert_whole_udp(results[4])


def test_reassembled_fragments_with_too_many_inner_extension_headers_are_counted() -> None:
    inner = b"".join(ipv6_extension(60) for _ in range(16)) + ipv6_extension(17) + DATAGRAM
    decoder = Decoder(LINK_ETHERNET)
    assert feed(decoder, frames(inner, next_header=60))[-1] is None
    assert decoder.malformed == {"too_many_ipv6_extensions": 1}
