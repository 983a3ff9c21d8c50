"""DNS name decoding: labels, compression pointers (RFC 1035 4.1.4), loop and length limits, escapes."""

from __future__ import annotations

import pytest
from packetshipper.modules.dns.names import read_name, trim_dot
from packetshipper.modules.dns.wire import DnsProtocolError, WireCursor

# RFC 1035 4.1.4's example: F.ISI.ARPA at offset 20, FOO.F.ISI.ARPA at 40 (pointer to 20), ARPA at 64
# (pointer to 26), and the root at 92. Filler bytes stand in for the rest of the message.
RFC_EXAMPLE = (
    b"\xee" * 20
    + b"\x01F\x03ISI\x04ARPA\x00"  # 20..31
    + b"\xee" * 8  # 32..39
    + b"\x03FOO\xc0\x14"  # 40..45
    + b"\xee" * 18  # 46..63
    + b"\xc0\x1a"  # 64..65
    + b"\xee" * 26  # 66..91
    + b"\x00"  # 92
)


def name_at(data: bytes, offset: int) -> tuple[str, int]:
    cur = WireCursor(data, offset)
    return read_name(cur), cur.pos


@pytest.mark.parametrize(
    ("offset", "expected", "next_offset"),
    [(20, "F.ISI.ARPA.", 32), (40, "FOO.F.ISI.ARPA.", 46), (64, "ARPA.", 66), (92, ".", 93)],
)
def test_rfc1035_compression_example(offset: int, expected: str, next_offset: int) -> None:
    assert name_at(RFC_EXAMPLE, offset) == (expected, next_offset)


def test_pointer_to_itself_is_a_loop() -> None:
    with pytest.raises(DnsProtocolError, match="loops"):
        name_at(b"\xee" * 12 + b"\xc0\x0c", 12)


def test_two_pointers_pointing_at_each_other_are_a_loop() -> None:
    # offset 12 points to 14, offset 14 points back to 12
    with pytest.raises(DnsProtocolError, match="loops"):
        name_at(b"\xee" * 12 + b"\xc0\x0e\xc0\x0c", 12)


def test_forward_pointer_is_refused() -> None:
    data = b"\xc0\x04\xee\xee\x03abc\x00"
    with pytest.raises(DnsProtocolError, match="loops"):
        name_at(data, 0)


def test_pointer_into_the_middle_of_its_own_labels_is_refused() -> None:
    # "abc" then a pointer back to the start of the same name: would repeat abc forever
    data = b"\x03abc\xc0\x00"
    with pytest.raises(DnsProtocolError, match="loops"):
        name_at(data, 0)


def test_descending_pointer_chain_resolves() -> None:
    # 0: "com" root; 5: "example" + ptr 0; 15: "www" + ptr 5
    data = b"\x03com\x00" + b"\x07example\xc0\x00" + b"\x03www\xc0\x05"
    assert name_at(data, 15) == ("www.example.com.", 21)


def test_name_of_255_octets_is_accepted_and_256_refused() -> None:
    # 4 labels of 63 = 256 wire octets with the root byte; 3 of 63 + one of 61 = 254 + root = 255.
    ok = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"b" * 61 + b"\x00"
    assert len(ok) == 255
    text, end = name_at(ok, 0)
    assert end == 255 and text.count(".") == 4
    too_long = (b"\x3f" + b"a" * 63) * 4 + b"\x00"
    with pytest.raises(DnsProtocolError, match="longer than 255"):
        name_at(too_long, 0)


def test_length_limit_counts_labels_reached_through_pointers() -> None:
    suffix = (b"\x3f" + b"a" * 63) * 3 + b"\x00"  # 193 octets
    data = suffix + b"\x3f" + b"b" * 63 + b"\xc0\x00"  # 64 more + the suffix = 257
    with pytest.raises(DnsProtocolError, match="longer than 255"):
        name_at(data, len(suffix))


@pytest.mark.parametrize("label_type", [0x40, 0x80])
def test_reserved_label_types_are_refused(label_type: int) -> None:
    with pytest.raises(DnsProtocolError, match="unsupported label type"):
        name_at(bytes([label_type | 1, 0x41, 0]), 0)


@pytest.mark.parametrize(
    "data", [b"", b"\x03ab", b"\x03abc", b"\xc0", b"\x01"], ids=["empty", "short-label", "no-root", "half-pointer", "length-only"]
)
def test_truncated_names_raise(data: bytes) -> None:
    with pytest.raises(DnsProtocolError):
        name_at(data, 0)


def test_labels_may_not_run_past_the_cursor_end_even_if_the_buffer_goes_on() -> None:
    data = b"\x03abc\x00"
    with pytest.raises(DnsProtocolError):
        read_name(WireCursor(data, 0, 3))


def test_pointer_target_may_lie_outside_the_cursor_bounds() -> None:
    # an RDATA cursor covers 6..8 only, but its name points back into the message
    data = b"\x03com\x00\xee\xc0\x00"
    cur = WireCursor(data, 6, 8)
    assert read_name(cur) == "com."
    assert cur.pos == 8


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (b"a.b", "a\\.b"),
        (b"sp ace", "sp\\ ace"),
        (b'q"uote', 'q\\"uote'),
        (b"back\\slash", "back\\\\slash"),
        (b"\x00\x07\xff", "\\000\\007\\255"),
        (b"_sip-tls", "_sip-tls"),
    ],
)
def test_special_and_binary_bytes_are_escaped(label: bytes, text: str) -> None:
    data = bytes([len(label)]) + label + b"\x00"
    assert name_at(data, 0)[0] == text + "."


def test_trim_dot_keeps_the_root_and_strips_one_trailing_dot() -> None:
    assert trim_dot("example.com.") == "example.com"
    assert trim_dot(".") == "."
    assert trim_dot("a\\..") == "a\\."
