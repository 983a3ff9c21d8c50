"""Hypothesis properties of the cassandra parser: arbitrary bytes raise nothing but ProtocolError, and
any split of valid input gives the same frames."""

from __future__ import annotations

import contextlib

import cassandra_wire as w
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.cassandra.frames import Session
from packetshipper.modules.cassandra.parser import CassandraStreamParser
from packetshipper.modules.cassandra.settings import SETTINGS, CassandraConfig
from packetshipper.protocol import Direction, ProtocolError

CONFIG = CassandraConfig.from_mapping({k: v.default for k, v in SETTINGS.items()})  # type: ignore[union-attr]

REQUESTS = (w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0"}), stream=0)
            + w.frame("QUERY", w.query_body("SELECT * FROM ks.t"), stream=1)
            + w.frame("PREPARE", w.long_string("SELECT ?"), stream=2) + w.frame("OPTIONS", stream=3))
RESPONSES = (w.frame("READY", stream=0)
             + w.frame("RESULT", w.rows_body("ks", "t", [("a", w.option(w.INT))], [[b"\0\0\0\1"]]), stream=1)
             + w.frame("ERROR", w.error_body(0x2200, "bad", b""), stream=2)
             + w.frame("EVENT", w.string("STATUS_CHANGE") + w.string("UP") + w.inet(b"\x7f\0\0\1", 9042),
                       stream=-1))


def parse(chunks: list[bytes], direction: Direction) -> list[tuple[int, int, object]]:
    p = CassandraStreamParser(CONFIG, direction, Session(), lambda name, n=1: None)
    frames = []
    for chunk in chunks:
        frames += p.receive_data(chunk, 1.0)
    return [(f.stream, f.opcode, f.fields) for f in frames]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(st.lists(st.integers(min_value=0), max_size=20))
def test_random_splits_give_the_same_frames(cuts: list[int]) -> None:
    assert parse(split(REQUESTS, cuts), Direction.REQUEST) == parse([REQUESTS], Direction.REQUEST)
    assert parse(split(RESPONSES, cuts), Direction.RESPONSE) == parse([RESPONSES], Direction.RESPONSE)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64), max_size=8), st.sampled_from(list(Direction)))
def test_arbitrary_bytes_raise_only_protocol_error(chunks: list[bytes], direction: Direction) -> None:
    with contextlib.suppress(ProtocolError):
        parse(chunks, direction)


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0, max_value=len(RESPONSES)))
def test_valid_prefix_then_garbage(garbage: bytes, at: int) -> None:
    with contextlib.suppress(ProtocolError):
        parse([RESPONSES[:at] + garbage], Direction.RESPONSE)
