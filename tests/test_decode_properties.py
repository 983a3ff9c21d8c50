"""Properties of the reference decoder over arbitrary and damaged frames of every link type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.decode.decoder import (
    LINK_ETHERNET,
    LINK_IPV4,
    LINK_IPV6,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    Decoded,
    Decoder,
)
from test_decode_framing import damaged, damaged_headers, link_frames

LINKTYPES = [LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL, LINK_LOOP, LINK_RAW, LINK_IPV4,
             LINK_IPV6]


def ledger(decoder: Decoder) -> int:
    """Every frame lands in exactly one of these."""
    return decoder.decoded + decoder.non_ip + sum(decoder.malformed.values()) + decoder.fragments_pending


def view(d: Decoded | None) -> tuple[object, ...] | None:
    if d is None:
        return None
    return (d.ip_version, d.proto, d.src, d.dst, d.sport, d.dport, d.tcp_flags, d.seq, d.ack, d.window,
            d.icmp_type, d.icmp_code, d.icmp_id, d.vlans, d.src_mac, d.dst_mac, d.payload, d.wire_len,
            d.truncated)


def frames_for(linktype: int) -> st.SearchStrategy[bytes]:
    framing = LINK_RAW if linktype in (LINK_IPV4, LINK_IPV6) else linktype
    return st.one_of(st.binary(max_size=160), damaged(link_frames(framing)), damaged_headers(framing))


@pytest.mark.parametrize("linktype", LINKTYPES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_bytes_decode_or_are_counted_once_and_nothing_raises(linktype: int, data: st.DataObject) -> None:
    frame = data.draw(frames_for(linktype))
    decoder = Decoder(linktype)
    d = decoder.decode(frame, 0, len(frame), len(frame), 1.0)
    assert ledger(decoder) == 1
    assert (d is not None) == (decoder.decoded == 1)
    if d is not None:
        assert d.poff <= d.pend <= len(d.data)
        assert d.wire_len >= len(frame)


@pytest.mark.parametrize("linktype", LINKTYPES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_bytes_around_the_frame_in_the_buffer_change_nothing(linktype: int, data: st.DataObject) -> None:
    frame = data.draw(frames_for(linktype))
    before, after = data.draw(st.binary(max_size=80)), data.draw(st.binary(max_size=80))
    alone, embedded = Decoder(linktype), Decoder(linktype)
    expected = view(alone.decode(frame, 0, len(frame), len(frame), 1.0))
    got = view(embedded.decode(before + frame + after, len(before), len(frame), len(frame), 1.0))
    assert got == expected
    assert alone.stats() == embedded.stats()


@pytest.mark.parametrize("linktype", [LINK_ETHERNET, LINK_LINUX_SLL, LINK_NULL, LINK_RAW])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_valid_frames_decode_and_any_cut_is_flagged_or_counted(linktype: int, data: st.DataObject) -> None:
    frame = data.draw(link_frames(linktype))
    decoder = Decoder(linktype)
    whole = decoder.decode(frame, 0, len(frame), len(frame), 1.0)
    assert whole is not None and not whole.truncated
    caplen = data.draw(st.integers(0, len(frame) - 1))
    cut = decoder.decode(frame, 0, caplen, caplen, 1.0)
    assert ledger(decoder) == 2
    if cut is None:
        assert decoder.decoded == 1 and sum(decoder.malformed.values()) == 1
        return
    # The datagram ends where the whole frame's transport payload ends; only Ethernet padding follows.
    ip_end = whole.pend
    assert cut.truncated == (caplen < ip_end)
    assert cut.wire_len == max(caplen, ip_end)
    assert cut.payload == (frame[whole.poff : min(caplen, ip_end)] if caplen >= whole.poff else b"")
