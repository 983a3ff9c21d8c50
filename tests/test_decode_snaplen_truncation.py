"""Frames cut short by the capture's snaplen: every cut point gives one counted outcome, the packets that
still decode are flagged truncated, and their wire length comes from the IP header."""

from __future__ import annotations

import struct

import pytest
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL, Decoder
from packetshipper.engine import Engine
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.settings import validate
from test_decode_framing import V4_CLIENT, V4_SERVER, ipv4_fragments, sll, tcp4, udp6

TCP_FRAME = g.ethernet(tcp4(b"hello world", options=bytes.fromhex("020405b4 01010402 01030307")))
UDP6_FRAME = g.ethernet(udp6(b"query"), ethertype=0x86DD)


def outcome(decoder: Decoder, frame: bytes, caplen: int) -> tuple[str, bytes, int]:
    """('malformed:<reason>' or 'decoded' or 'truncated', payload, wire_len) for a frame cut at caplen."""
    before = dict(decoder.malformed)
    d = decoder.decode(frame, 0, caplen, caplen, 1.0)
    if d is None:
        [reason] = [r for r in decoder.malformed if decoder.malformed[r] != before.get(r, 0)]
        return f"malformed:{reason}", b"", 0
    return ("truncated" if d.truncated else "decoded"), d.payload, d.wire_len


def test_every_cut_of_an_ipv4_tcp_frame_has_the_outcome_its_layout_implies() -> None:
    # Ethernet 0..14, IPv4 14..34, TCP header with 12 bytes of options 34..66, payload 66..77.
    assert len(TCP_FRAME) == 77
    for caplen in range(len(TCP_FRAME) + 1):
        result = outcome(Decoder(LINK_ETHERNET), TCP_FRAME, caplen)
        if caplen < 14:
            assert result == ("malformed:truncated_ethernet", b"", 0), caplen
        elif caplen < 34:
            assert result == ("malformed:truncated_ipv4", b"", 0), caplen
        elif caplen < 54:
            assert result == ("malformed:truncated_tcp", b"", 0), caplen
        elif caplen < 66:  # the header is there, its options are cut
            assert result == ("truncated", b"", 77), caplen
        elif caplen < 77:
            assert result == ("truncated", b"hello world"[: caplen - 66], 77), caplen
        else:
            assert result == ("decoded", b"hello world", 77)


def test_every_cut_of_an_ipv6_udp_frame_has_the_outcome_its_layout_implies() -> None:
    # Ethernet 0..14, IPv6 14..54, UDP header 54..62, payload 62..67.
    assert len(UDP6_FRAME) == 67
    for caplen in range(len(UDP6_FRAME) + 1):
        result = outcome(Decoder(LINK_ETHERNET), UDP6_FRAME, caplen)
        if caplen < 14:
            assert result == ("malformed:truncated_ethernet", b"", 0), caplen
        elif caplen < 54:
            assert result == ("malformed:truncated_ipv6", b"", 0), caplen
        elif caplen < 62:
            assert result == ("malformed:truncated_udp", b"", 0), caplen
        elif caplen < 67:
            assert result == ("truncated", b"query"[: caplen - 62], 67), caplen
        else:
            assert result == ("decoded", b"query", 67)


def test_a_full_size_segment_cut_at_96_bytes_counts_its_wire_length() -> None:
    frame = g.ethernet(tcp4(b"x" * 1460))
    assert len(frame) == 1514
    decoder = Decoder(LINK_ETHERNET)
    d = decoder.decode(frame, 0, 96, 96, 1.0)
    assert d is not None and d.truncated
    assert d.wire_len == 1514
    assert d.payload == b"x" * (96 - 54)
    assert decoder.snaplen_truncated == 1 and decoder.decoded == 1


def test_the_wire_length_from_ip_includes_the_link_header_of_each_link_type() -> None:
    frame = sll(tcp4(b"x" * 1000))
    d = Decoder(LINK_LINUX_SLL).decode(frame, 0, 100, 100, 1.0)
    assert d is not None and d.truncated and d.wire_len == 16 + 20 + 20 + 1000


def test_a_cut_frame_is_flagged_once_and_counted_once() -> None:
    decoder = Decoder(LINK_ETHERNET)
    frame = g.ethernet(tcp4(b"x" * 500))
    for _ in range(3):
        decoder.decode(frame, 0, 80, 80, 1.0)
    assert decoder.snaplen_truncated == 3 and decoder.decoded == 3


def test_a_cut_fragment_cannot_be_reassembled_and_is_counted() -> None:
    datagram = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"z" * 3000)
    first = g.ethernet(ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, 1480, 1)[0])
    decoder = Decoder(LINK_ETHERNET)
    assert decoder.decode(first, 0, 96, 96, 1.0) is None
    assert decoder.malformed == {"truncated_fragment": 1}
    assert decoder.fragments.stats()["fragments"] == 0


def test_ethernet_padding_is_not_truncation_and_counts_in_the_wire_length() -> None:
    frame = g.ethernet(udp6(b""), ethertype=0x86DD) + bytes(4)
    d = Decoder(LINK_ETHERNET).decode(frame, 0, len(frame), len(frame), 1.0)
    assert d is not None and not d.truncated and d.wire_len == len(frame)


@pytest.mark.parametrize("caplen", [60, 96, 200])
def test_flow_bytes_of_a_cut_frame_are_its_wire_length(caplen: int) -> None:
    reports: list[tuple[int, int, int, int]] = []

    def emit(_flow: Flow, _now: float, _final: bool, counts: tuple[int, int, int, int]) -> None:
        reports.append(counts)

    flows = FlowTable(validate(FLOW_SETTINGS, {}), emit)
    engine = Engine(Decoder(LINK_ETHERNET), flows)
    frame = g.ethernet(tcp4(b"x" * 1460))
    engine.process_batch(frame, struct.pack("=IIII", 1, 0, 0, caplen))
    engine.finish()
    assert reports == [(1, 1514, 0, 0)]
    stats = engine.stats()
    assert (stats["fast_path"], stats["snaplen_truncated"], stats["bytes"]) == (0, 1, caplen)
