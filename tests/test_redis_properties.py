"""Property tests: only ProtocolError escapes the RESP reader, random splits give the same messages,
and any message it returns makes an event that fits the schema."""

from __future__ import annotations

import contextlib
from typing import Any

import redis_wire as w
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.redis import MODULE
from packetshipper.modules.redis.resp import Limits, RespParser
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

LIMITS = Limits(max_message_size=256, max_line_length=1024)
words = st.binary(max_size=30)
texts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -_:", max_size=20)


def _leaves() -> st.SearchStrategy[bytes]:
    return st.one_of(
        texts.map(w.simple), texts.map(w.error), st.integers(-(2**63), 2**63).map(w.integer), words.map(w.bulk),
        st.just(w.NULL_BULK), st.just(w.NULL_ARRAY), st.just(w.NULL), st.booleans().map(w.boolean),
        st.floats(allow_nan=False).map(lambda f: w.double(repr(f))), st.integers().map(lambda i: w.bignum(str(i))),
        texts.map(lambda t: w.verbatim("txt", t)), texts.map(w.bulk_error),
        st.lists(words, max_size=3).map(lambda c: w.streamed_string(*[x for x in c if x])),
    )


values = st.recursive(_leaves(), lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda xs: w.array(*xs)),
    st.lists(inner, max_size=4).map(lambda xs: w.set_(*xs)),
    st.lists(inner, max_size=4).map(lambda xs: w.push(*xs)),
    st.lists(st.tuples(inner, inner), max_size=3).map(lambda ps: w.map_(*ps)),
    st.tuples(st.lists(st.tuples(inner, inner), min_size=1, max_size=2), inner).map(lambda a: w.attribute(*a)),
    st.lists(inner, max_size=3).map(lambda xs: w.streamed_array(*xs)),
), max_leaves=12)
commands = st.one_of(
    st.lists(words, min_size=1, max_size=5).map(lambda args: w.command(*args)),
    st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10), min_size=1,
             max_size=4).map(lambda args: w.inline(" ".join(args))),
)


def feed(data_chunks: list[bytes], *, request: bool) -> list[Any]:
    p = RespParser(LIMITS, request=request, count=lambda *a: None)
    out: list[Any] = []
    for chunk in data_chunks:
        out += p.receive_data(chunk, 0.0)
    p.receive_eof(0.0)
    return out


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted(c % (len(stream) + 1) for c in cuts)
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=60), max_size=8), st.booleans())
def test_arbitrary_bytes_raise_only_protocol_error(chunks: list[bytes], request: bool) -> None:
    with contextlib.suppress(ProtocolError):
        feed(chunks, request=request)


@settings(max_examples=150)
@given(st.lists(values, min_size=1, max_size=4), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                           min_size=1, max_size=6))
def test_corrupted_replies_raise_only_protocol_error(batch: list[bytes], edits: list[tuple[int, int]]) -> None:
    corrupted = bytearray(b"".join(batch))
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    with contextlib.suppress(ProtocolError):
        feed([bytes(corrupted)], request=False)


@settings(max_examples=150)
@given(st.lists(values, min_size=1, max_size=5), st.lists(st.integers(0, 10_000), max_size=12))
# A line cut before its \n, then taken whole by the one-line fast path: the next line was searched from
# the cut line's scan offset and read past its own end (hypothesis found it).
@example(batch=[b"*0\r\n", b"*?\r\n+\r\n.\r\n", b"+00\r\n", b"*?\r\n.\r\n"], cuts=[18])
def test_random_splits_of_replies_give_the_same_messages(batch: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(batch)
    whole = feed([stream], request=False)
    assert len(whole) == len(batch)
    assert [m.size for m in whole] == [len(v) for v in batch]
    split_out = feed(split(stream, cuts), request=False)
    assert [(m.kind, m.text, m.is_error, m.head, m.count, m.size) for m in split_out] == [
        (m.kind, m.text, m.is_error, m.head, m.count, m.size) for m in whole]


@settings(max_examples=300)
@given(st.lists(commands, min_size=1, max_size=5), st.lists(st.integers(0, 10_000), max_size=12))
def test_random_splits_of_commands_give_the_same_messages(batch: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(batch)
    whole = feed([stream], request=True)
    assert [m.size for m in whole] == [len(c) for c in batch]
    split_out = feed(split(stream, cuts), request=True)
    assert [(m.method, m.resource, m.query, m.argc) for m in split_out] == [
        (m.method, m.resource, m.query, m.argc) for m in whole]


CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 6379))
REDIS = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {
    "type": "redis", "send_request": True, "send_response": True, "include_pushes": True,
    "max_message_size": 64}))


@settings(max_examples=100)
@given(st.lists(commands, max_size=3), st.lists(values, max_size=3), st.binary(max_size=20))
def test_any_message_makes_an_event_that_fits_the_schema(requests: list[bytes], replies: list[bytes],
                                                         noise: bytes) -> None:
    correlator = REDIS.correlator(CONN)
    txns = []
    for direction, data in ((Direction.REQUEST, b"".join(requests) + noise),
                            (Direction.RESPONSE, b"".join(replies) + noise)):
        parser = REDIS.stream_parser(direction, CONN)
        try:
            messages = parser.receive_data(data, 1.0)
        except ProtocolError:
            continue
        for message in messages:
            txns += correlator.on_message(direction, message, 1.0)
    txns += correlator.close(2.0)
    for txn in txns:
        assert validate_event(transaction_event("redis", txn, REDIS.event_fields(txn))) == []
