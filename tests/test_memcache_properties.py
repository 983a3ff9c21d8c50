"""Property tests: only ProtocolError escapes the memcache reader (TCP and UDP), random splits give the
same messages, and any message it returns makes an event that fits the schema."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import memcache_wire as w
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.memcache import MODULE
from packetshipper.modules.memcache.builder import ValueLimits
from packetshipper.modules.memcache.parser import McStreamParser
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

LIMITS = ValueLimits(max_values=2, max_bytes_per_value=8, max_message_size=512, max_line_length=512)
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:_-", min_size=1, max_size=12)
data = st.binary(max_size=40)
opaques = st.integers(0, 2**32 - 1)

requests = st.one_of(
    st.tuples(st.sampled_from(["set", "add", "replace", "append", "prepend"]), keys, data, st.booleans()).map(
        lambda t: w.store(t[0], t[1], t[2], noreply=t[3])),
    st.lists(keys, min_size=1, max_size=5).map(lambda ks: w.line("get " + " ".join(ks))),
    st.tuples(st.sampled_from(["incr", "decr"]), keys, st.integers(0, 2**64 - 1)).map(
        lambda t: w.line(f"{t[0]} {t[1]} {t[2]}")),
    keys.map(lambda k: w.line(f"delete {k}")),
    st.sampled_from([w.line("stats"), w.line("version"), w.line("quit"), w.line("flush_all"), w.line("mn")]),
    st.tuples(keys, st.booleans()).map(lambda t: w.line(f"mg {t[0]} v k{' q' if t[1] else ''}")),
    st.tuples(keys, data).map(lambda t: f"ms {t[0]} {len(t[1])} T0".encode() + w.CRLF + t[1] + w.CRLF),
    st.tuples(st.sampled_from([w.GET, w.GETK, w.GETKQ, w.NOOP, w.DELETE]), keys, opaques).map(
        lambda t: w.binary(t[0], key=t[1].encode(), opaque=t[2])),
    st.tuples(keys, data, opaques).map(lambda t: w.binary(w.SET, key=t[0].encode(), extras=w.set_extras(1, 2),
                                                          body=t[1], opaque=t[2])),
)
replies = st.one_of(
    st.sampled_from([w.line(x) for x in ("STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "OK", "END",
                                         "ERROR", "CLIENT_ERROR bad", "SERVER_ERROR oom", "VERSION 1.6", "17",
                                         "HD", "EN", "NF kx", "MN")]),
    st.tuples(keys, data).map(lambda t: f"VA {len(t[1])} k{t[0]}".encode() + w.CRLF + t[1] + w.CRLF),
    st.lists(st.tuples(keys, data), max_size=4).map(
        lambda vs: b"".join(w.value(k, v) for k, v in vs) + w.line("END")),
    st.lists(st.tuples(keys, keys), min_size=1, max_size=4).map(
        lambda ss: b"".join(w.line(f"STAT {n} {v}") for n, v in ss) + w.line("END")),
    st.tuples(keys, data, opaques, st.sampled_from([0, 1, 2, 0x81])).map(
        lambda t: w.binary(w.GETK, request=False, key=t[0].encode(), extras=b"\0\0\0\1", body=t[1], opaque=t[2],
                           status=t[3])),
    st.lists(st.tuples(keys, keys), max_size=3).map(
        lambda ss: b"".join(w.binary(w.STAT, request=False, key=n.encode(), body=v.encode(), opaque=1)
                            for n, v in ss) + w.binary(w.STAT, request=False, opaque=1)),
)


def parse(chunks: list[bytes], request: bool) -> list[Any]:
    p = McStreamParser(LIMITS, request=request, parse_unknown=False, count=lambda *a: None)
    out: list[Any] = []
    for chunk in chunks:
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
        parse(chunks, request)


@settings(max_examples=200)
@given(st.lists(st.one_of(requests, replies), min_size=1, max_size=4), st.booleans(),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=5))
def test_corrupted_messages_raise_only_protocol_error(batch: list[bytes], request: bool,
                                                      edits: list[tuple[int, int]]) -> None:
    corrupted = bytearray(b"".join(batch))
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    with contextlib.suppress(ProtocolError):
        parse([bytes(corrupted)], request)


def _same(messages: list[Any]) -> list[Any]:
    return [dataclasses.replace(m, ts=0.0) for m in messages]


@settings(max_examples=200)
@given(st.lists(requests, min_size=1, max_size=5), st.lists(st.integers(0, 10_000), max_size=12))
def test_random_splits_of_requests_give_the_same_messages(batch: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(batch)
    whole = parse([stream], True)
    assert [m.size for m in whole] == [len(r) for r in batch]
    assert _same(parse(split(stream, cuts), True)) == _same(whole)


@settings(max_examples=200)
@given(st.lists(replies, min_size=1, max_size=5), st.lists(st.integers(0, 10_000), max_size=12))
def test_random_splits_of_replies_give_the_same_messages(batch: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(batch)
    whole = parse([stream], False)
    assert [m.size for m in whole] == [len(r) for r in batch]
    assert _same(parse(split(stream, cuts), False)) == _same(whole)


TCP = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
UDP = Connection("udp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
MEMCACHE = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {
    "type": "memcache", "maxvalues": -1, "maxbytespervalue": 16, "parseunknown": True}))


@settings(max_examples=150)
@given(st.lists(requests, max_size=3), st.lists(replies, max_size=3), st.binary(max_size=12))
def test_any_tcp_message_makes_an_event_that_fits_the_schema(reqs: list[bytes], reps: list[bytes],
                                                             noise: bytes) -> None:
    correlator = MEMCACHE.correlator(TCP)
    txns = []
    for direction, stream in ((Direction.REQUEST, b"".join(reqs) + noise), (Direction.RESPONSE, b"".join(reps))):
        try:
            messages = MEMCACHE.stream_parser(direction, TCP).receive_data(stream, 1.0)
        except ProtocolError:
            continue
        for message in messages:
            txns += correlator.on_message(direction, message, 1.0)
    for txn in txns + correlator.close(2.0):
        assert validate_event(transaction_event("memcache", txn, MEMCACHE.event_fields(txn))) == []


@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.one_of(
    st.binary(max_size=30),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.one_of(requests, replies)).map(
        lambda t: w.UDP.pack(t[0], t[1], t[2], 0) + t[3]))), max_size=6))
def test_arbitrary_udp_datagrams_raise_only_protocol_error_and_fit_the_schema(
        datagrams: list[tuple[bool, bytes]]) -> None:
    correlator = MEMCACHE.correlator(UDP)
    txns = []
    for to_server, datagram in datagrams:
        direction = Direction.REQUEST if to_server else Direction.RESPONSE
        try:
            for message in MEMCACHE.parse_datagram(datagram, 1.0, direction, UDP):
                txns += correlator.on_message(direction, message, 1.0)
        except ProtocolError:
            pass
    for txn in txns + correlator.expire(100.0) + correlator.close(100.0):
        assert validate_event(transaction_event("memcache", txn, MEMCACHE.event_fields(txn))) == []
