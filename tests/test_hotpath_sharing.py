"""The compiled `select_share` gives exactly what `sharing.select` (the reference) gives, and `select`
uses it when the compiled hot path is on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import sharing
from packetshipper.capture import META
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
)
from test_hotpath_equivalence import COMPILED, hot_path
from test_sharing import A4, A6, B4, B6, ether, ipv4, ipv6

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

LINKTYPES = [LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL, LINK_LOOP, LINK_RAW, LINK_RAW_OPENBSD,
             LINK_RAW_BSDOS, LINK_IPV4, LINK_IPV6, 147]


def link_header(linktype: int, ethertype: int) -> bytes:
    if linktype == LINK_ETHERNET:
        return b"\x02" * 6 + b"\x04" * 6 + ethertype.to_bytes(2, "big")
    if linktype == LINK_LINUX_SLL:
        return bytes(14) + ethertype.to_bytes(2, "big")
    if linktype == LINK_LINUX_SLL2:
        return ethertype.to_bytes(2, "big") + bytes(18)
    if linktype in (LINK_NULL, LINK_LOOP):
        return bytes(4)
    return b""


@st.composite
def frames(draw: st.DrawFn, linktype: int) -> bytes:
    """IP frames (VLAN-tagged too), then perhaps damaged and cut short; or noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=80))
    v6 = draw(st.booleans())
    a, b = draw(st.permutations([A6, B6] if v6 else [A4, B4]))
    packet = ipv6(a, b) if v6 else ipv4(a, b, frag=draw(st.sampled_from([0, 0x2000, 3])))
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == LINK_ETHERNET and draw(st.booleans()):
        frame = ether(packet, ethertype, draw(st.sampled_from([(7,), (7, 8), (1, 2, 3)])))
    else:
        frame = link_header(linktype, ethertype) + packet
    frame = bytearray(frame)
    for _ in range(draw(st.integers(0, 2))):
        if frame:
            frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[: draw(st.integers(0, len(frame)))])


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, bytes, bytes]:
    linktype = draw(st.sampled_from(LINKTYPES))
    buf, meta = bytearray(draw(st.binary(max_size=3))), bytearray()  # records need not start at 0
    for i, frame in enumerate(draw(st.lists(frames(linktype), max_size=20))):
        meta += META.pack(1_700_000_000 + i, i, len(buf), len(frame))
        buf += frame
    return linktype, bytes(buf), bytes(meta)


def reference_select(buf: bytes, meta: bytes, linktype: int, index: int, count: int) -> bytes:
    with hot_path(False):
        return sharing.select(buf, meta, linktype, index, count)


@settings(max_examples=400, deadline=None)
@given(batch=batches(), count=st.integers(1, 5))
def test_select_share_gives_the_records_select_gives(batch: tuple[int, bytes, bytes], count: int) -> None:
    linktype, buf, meta = batch
    shares = [COMPILED.select_share(buf, meta, linktype, index, count) for index in range(count)]
    assert shares == [reference_select(buf, meta, linktype, index, count) for index in range(count)]
    for offset in range(0, len(meta), 16):
        _, _, off, caplen = META.unpack_from(meta, offset)
        assert COMPILED.share_of(buf, off, caplen, linktype) == sharing.share_of(buf, off, caplen, linktype)
    # Every record lands in exactly one share.
    assert sorted(META.iter_unpack(b"".join(shares))) == sorted(META.iter_unpack(meta))


def test_select_uses_the_compiled_share_when_it_is_on() -> None:
    buf = ether(ipv4(A4, B4), 0x0800) + ether(ipv6(B6, A6), 0x86DD)
    meta = META.pack(1, 0, 0, 42) + META.pack(1, 1, 42, 62)
    calls = []

    class Spy:
        @staticmethod
        def select_share(*args: object) -> bytes:
            calls.append(args)
            return COMPILED.select_share(*args)

    with hot_path(True):
        sharing.hotpath.compiled = Spy  # type: ignore[assignment]
        assert sharing.select(buf, meta, LINK_ETHERNET, 1, 2) == reference_select(buf, meta, LINK_ETHERNET, 1, 2)
    assert calls == [(buf, meta, LINK_ETHERNET, 1, 2)]


def test_a_record_outside_the_buffer_is_one_clear_error_not_a_wild_read() -> None:
    with pytest.raises(ValueError, match="past the buffer's end"):
        COMPILED.select_share(b"\x00" * 10, META.pack(1, 0, 4, 20), LINK_ETHERNET, 0, 1)
    with pytest.raises(ValueError, match="whole number of records"):
        COMPILED.select_share(b"", b"\x00" * 15, LINK_ETHERNET, 0, 1)
    with pytest.raises(ZeroDivisionError):
        COMPILED.select_share(b"\x00" * 20, META.pack(1, 0, 0, 20), LINK_ETHERNET, 0, 0)
    assert COMPILED.select_share(b"", b"", LINK_ETHERNET, 0, 0) == reference_select(b"", b"", LINK_ETHERNET, 0, 0)
