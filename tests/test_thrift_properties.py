"""Hypothesis properties of the thrift parser: arbitrary bytes raise nothing but ProtocolError, and any
split of valid input (both protocols, both transports) gives the same messages."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.protocol import ProtocolError
from test_thrift_parser import WIRE, framed, parser


def run(transport: str, chunks: list[bytes]) -> list[tuple[str, int, int, object]]:
    p = parser(transport_type=transport)
    out = []
    for chunk in chunks:
        out += p.receive_data(chunk, 1.0)
    return [(m.method, m.kind, m.seqid, m.fields) for m in out]


STREAMS = {
    "socket": b"".join(bytes.fromhex(WIRE[p][w]) for p in WIRE for w in WIRE[p]),
    "framed": b"".join(framed(WIRE[p][w]) for p in WIRE for w in WIRE[p]),
}


@given(st.sampled_from(["socket", "framed"]), st.lists(st.integers(min_value=0), max_size=20))
def test_random_splits_give_the_same_messages(transport: str, cuts: list[int]) -> None:
    data = STREAMS[transport]
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert run(transport, chunks) == run(transport, [data])


@settings(max_examples=300)
@given(st.sampled_from(["socket", "framed"]), st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes_raise_only_protocol_error(transport: str, chunks: list[bytes]) -> None:
    with contextlib.suppress(ProtocolError):
        run(transport, chunks)
