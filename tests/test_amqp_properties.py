"""Hypothesis: arbitrary bytes raise only ProtocolError, and any split of a valid stream gives the
same messages as the whole stream."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st
from packetshipper.modules.amqp.parser import AmqpStreamParser
from packetshipper.protocol import ProtocolError
from test_amqp_parser import CLIENT, parse


@given(st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes, with_header: bool) -> None:
    parser = AmqpStreamParser(4096, 100, lambda name: None)
    with contextlib.suppress(ProtocolError):
        parser.receive_data(CLIENT[:8] + data if with_header else data, 1.0)


@given(st.lists(st.integers(1, len(CLIENT) - 1), max_size=20))
def test_random_splits_give_the_same_messages(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(CLIENT)]
    whole, _ = parse([CLIENT])
    split, _ = parse([CLIENT[a:b] for a, b in zip(points, points[1:], strict=False)])
    assert split == whole and len(whole) == 2
