"""The Lumberjack ACK parser: whole, byte by byte, with trailing bytes, and under arbitrary input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.outputs.lumberjack import AckParser, ProtocolError


def ack(seq: int) -> bytes:
    return b"2A" + struct.pack(">I", seq)


STREAM = ack(0) + ack(5) + ack(4294967295)
EXPECTED = [0, 5, 4294967295]


def test_acks_parsed_whole() -> None:
    assert AckParser().feed(STREAM) == EXPECTED


def test_acks_parsed_one_byte_at_a_time() -> None:
    parser = AckParser()
    got = []
    for i in range(len(STREAM)):
        got += parser.feed(STREAM[i : i + 1])
    assert got == EXPECTED


def test_a_trailing_partial_frame_waits_for_the_rest() -> None:
    parser = AckParser()
    assert parser.feed(STREAM + b"2A\x00") == EXPECTED
    assert parser.feed(b"\x00\x00\x07") == [7]


@pytest.mark.parametrize(("data", "message"), [(b"1A\x00\x00\x00\x01", "version"), (b"2W\x00\x00\x00\x01", "type")])
def test_anything_but_a_v2_ack_is_a_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        AckParser().feed(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_nothing_but_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        AckParser().feed(data)


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20), st.lists(st.integers(0, 200), max_size=10))
def test_random_splits_give_the_same_acks(seqs: list[int], cuts: list[int]) -> None:
    data = b"".join(ack(s) for s in seqs)
    points = sorted({min(c, len(data)) for c in cuts})
    parser = AckParser()
    got = []
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        got += parser.feed(data[start:end])
    assert got == seqs
