"""Hypothesis: arbitrary bytes raise only ProtocolError (datagram and stream), and any split of a
valid TCP stream gives the same messages as the whole stream."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st
from packetshipper.modules.sip.parser import SipStreamParser, parse_datagram
from packetshipper.protocol import ProtocolError
from test_sip_parser import MESSAGES, WIRE, stream


@given(st.binary(max_size=600))
def test_arbitrary_datagram_raises_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_datagram(data, 1.0)


@given(st.lists(st.sampled_from(MESSAGES + [b"\r\n"]), max_size=6).map(b"".join), st.binary(max_size=40),
       st.integers(0, 400))
def test_mangled_stream_raises_only_protocol_error(valid: bytes, junk: bytes, at: int) -> None:
    data = valid[:at] + junk + valid[at:]
    parser = SipStreamParser(2048, lambda name: None)
    with contextlib.suppress(ProtocolError):
        parser.receive_data(data, 1.0)
    assert len(parser._buf) <= 2048 + len(data)


@given(st.lists(st.integers(1, len(WIRE) - 1), max_size=20))
def test_random_splits_give_the_same_messages(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(WIRE)]
    chunks = [WIRE[a:b] for a, b in zip(points, points[1:], strict=False)]
    whole, _ = stream([WIRE])
    split, _ = stream(chunks)
    assert [m.raw for m in split] == [m.raw for m in whole] == MESSAGES
