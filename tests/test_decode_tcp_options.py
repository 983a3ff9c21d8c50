"""tcp_options() splits the TCP options field (RFC 9293 3.1) into (kind, value) pairs."""

from __future__ import annotations

from packetshipper.decode.decoder import LINK_RAW, Decoder, tcp_options
from test_decode_framing import tcp4

# A Linux SYN: MSS 1460, SACK permitted, timestamps (TSval 0x01020304, TSecr 0), NOP, window scale 7.
LINUX_SYN = bytes.fromhex("020405b4 0402 080a0102030400000000 01 030307")


def test_a_linux_syn_gives_mss_sack_permitted_timestamps_and_window_scale() -> None:
    assert len(LINUX_SYN) == 20
    assert tcp_options(LINUX_SYN) == [
        (2, b"\x05\xb4"),
        (4, b""),
        (8, bytes.fromhex("0102030400000000")),
        (3, b"\x07"),
    ]


def test_nops_are_skipped_and_end_of_list_stops() -> None:
    assert tcp_options(bytes.fromhex("0101 0303 07 00 020405b4")) == [(3, b"\x07")]


def test_sack_blocks_keep_their_value_bytes() -> None:
    sack = bytes.fromhex("0101 050a 00000064 000000c8")
    assert tcp_options(sack) == [(5, bytes.fromhex("00000064000000c8"))]


def test_empty_options_give_nothing() -> None:
    assert tcp_options(b"") == []


def test_a_kind_without_its_length_byte_ends_the_list() -> None:
    assert tcp_options(bytes.fromhex("030307 02")) == [(3, b"\x07")]


def test_a_length_below_two_ends_the_list() -> None:
    assert tcp_options(bytes.fromhex("030307 0201 0000")) == [(3, b"\x07")]
    assert tcp_options(bytes.fromhex("0200")) == []


def test_a_length_past_the_end_ends_the_list() -> None:
    assert tcp_options(bytes.fromhex("030307 0204 05")) == [(3, b"\x07")]


def test_the_options_of_a_decoded_segment_sit_between_the_header_and_the_payload() -> None:
    packet = tcp4(b"data", flags="S", options=LINUX_SYN)
    d = Decoder(LINK_RAW).decode(packet, 0, len(packet), len(packet), 1.0)
    assert d is not None and d.payload == b"data"
    options = d.data[d.poff - len(LINUX_SYN) : d.poff]
    assert [kind for kind, _ in tcp_options(options)] == [2, 4, 8, 3]
