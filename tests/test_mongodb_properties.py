"""Property tests for the mongodb parser: random splits give the same messages, and nothing but
ProtocolError escapes any input (hypothesis; plus a 200,000-input fuzz run marked slow)."""

from __future__ import annotations

import random
from typing import Any

import mongodb_wire as w
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.mongodb.correlator import MongoCorrelator
from packetshipper.modules.mongodb.parser import MongoStreamParser
from packetshipper.modules.mongodb.settings import MongoConfig
from packetshipper.protocol import Connection, Direction, Endpoint, ProtocolError

CONFIG = MongoConfig.from_mapping({"send_response": True, "max_docs": 3, "max_message_size": 400})
CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 27017))


def _quiet(name: str, n: int = 1) -> None:
    pass


_scalar = st.one_of(st.integers(-(2**31), 2**31 - 1), st.text(max_size=12), st.booleans(), st.none(),
                    st.floats(allow_nan=False))
_document = st.dictionaries(st.text(alphabet="abcdefgxyz_", min_size=1, max_size=6), _scalar, max_size=4)
_name = st.text(alphabet="abcxyz", min_size=1, max_size=6)
_ids = st.integers(0, 2**31 - 1)

_request = st.one_of(
    st.builds(lambda c, q, i: w.op_query(f"db.{c}", q, request_id=i), _name, _document, _ids),
    st.builds(lambda c, q, i: w.op_msg({"find": c, "filter": q, "$db": "db"}, request_id=i), _name, _document, _ids),
    st.builds(lambda c, ds, i: w.op_msg({"insert": c, "$db": "db"}, sequences={"documents": ds}, request_id=i),
              _name, st.lists(_document, max_size=4), _ids),
    st.builds(lambda c, ds: w.op_insert(f"db.{c}", ds), _name, st.lists(_document, max_size=3)),
    st.builds(lambda c, s, u: w.op_update(f"db.{c}", s, u), _name, _document, _document),
    st.builds(lambda c, s: w.op_delete(f"db.{c}", s), _name, _document),
    st.builds(lambda c, cid: w.op_get_more(f"db.{c}", cid), _name, st.integers(0, 2**62)),
    st.builds(lambda q, i: w.op_compressed(w.op_msg({"ping": 1, "q": q, "$db": "a"}, request_id=i)), _document, _ids),
)
_reply = st.one_of(
    st.builds(lambda ds, i: w.op_reply(ds, response_to=i), st.lists(_document, max_size=5), _ids),
    st.builds(lambda b, i: w.op_msg({"ok": 1.0, "cursor": {"firstBatch": b, "id": 0}}, response_to=i),
              st.lists(_document, max_size=5), _ids),
    st.builds(lambda m, i: w.op_msg({"ok": 0.0, "errmsg": m}, response_to=i), st.text(max_size=20), _ids),
)


def _cuts(total: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=total), max_size=12)


@settings(max_examples=200)
@given(st.lists(_request, min_size=1, max_size=5), st.data())
def test_requests_split_anywhere_parse_the_same(messages: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(messages)
    whole = w.feed(MongoStreamParser(CONFIG, Direction.REQUEST, _quiet), wire)
    assert [m.size for m in whole] == [len(m) for m in messages]
    split = w.feed_split(MongoStreamParser(CONFIG, Direction.REQUEST, _quiet), wire, data.draw(_cuts(len(wire))))
    assert split == whole


@settings(max_examples=200)
@given(st.lists(_reply, min_size=1, max_size=5), st.data())
def test_replies_split_anywhere_parse_the_same(messages: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(messages)
    whole = w.feed(MongoStreamParser(CONFIG, Direction.RESPONSE, _quiet), wire)
    assert [m.size for m in whole] == [len(m) for m in messages]
    split = w.feed_split(MongoStreamParser(CONFIG, Direction.RESPONSE, _quiet), wire, data.draw(_cuts(len(wire))))
    assert split == whole


def _drive(steps: list[tuple[str, Direction, Any]]) -> None:
    parsers: dict[Direction, MongoStreamParser] = {}
    correlator = MongoCorrelator(CONN, 50, 10.0, _quiet)
    for ts, (kind, direction, arg) in enumerate(steps):
        parser = parsers.get(direction)
        if parser is None:
            parser = parsers[direction] = MongoStreamParser(CONFIG, direction, _quiet)
        try:
            if kind == "data":
                messages = parser.receive_data(arg, float(ts))
            elif kind == "gap":
                messages = parser.receive_gap(arg, float(ts))
            else:
                messages = parser.receive_eof(float(ts))
            for message in messages:
                correlator.on_message(direction, message, float(ts))
        except ProtocolError:
            parsers.pop(direction)
    correlator.expire(len(steps) + 100.0)
    correlator.close(len(steps) + 100.0)


_direction = st.sampled_from(list(Direction))


@settings(max_examples=300)
@given(st.lists(st.one_of(
    st.tuples(st.just("data"), _direction, st.binary(max_size=80)),
    st.tuples(st.just("gap"), _direction, st.integers(min_value=1, max_value=3000)),
    st.tuples(st.just("eof"), _direction, st.none()),
), max_size=30))
def test_arbitrary_bytes_raise_only_protocol_error(steps: list[tuple[str, Direction, Any]]) -> None:
    _drive(steps)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.tuples(st.just(Direction.REQUEST), _request),
                          st.tuples(st.just(Direction.RESPONSE), _reply)), min_size=1, max_size=6), st.data())
def test_mutated_conversations_raise_only_protocol_error(messages: list[tuple[Direction, bytes]],
                                                         data: st.DataObject) -> None:
    steps: list[tuple[str, Direction, Any]] = []
    for direction, raw in messages:
        wire = bytearray(raw)
        for _ in range(data.draw(st.integers(0, 3))):
            wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
        steps.append(("data", direction, bytes(wire)))
        if data.draw(st.integers(0, 5)) == 0:
            steps.append(("gap", direction, data.draw(st.integers(1, 60))))
    _drive(steps)


def _mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    wire = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(0, 4)):
        choice = rng.random()
        if choice < 0.55 and wire:
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif choice < 0.7 and wire:
            del wire[rng.randrange(len(wire)):]
        elif choice < 0.9:
            wire += rng.choice(corpus)
        else:
            wire += rng.randbytes(rng.randint(1, 16))
    return bytes(wire)


@pytest.mark.slow
def test_fuzz_200000_inputs_raise_only_protocol_error() -> None:
    rng = random.Random(25)
    requests = [w.op_query("db.c", {"a": 1, "s": "x"}, skip=1, limit=2, fields={"a": 1}, request_id=3),
                w.op_query("db.$cmd", {"count": "c", "query": {"b": [1, 2.5, None]}}),
                w.op_msg({"insert": "c", "$db": "db"}, sequences={"documents": [{"_id": 1}, {"_id": 2}]}),
                w.op_msg({"find": "c", "$db": "db"}, flags=w.CHECKSUM_PRESENT),
                w.op_insert("db.c", [{"x": 1}]), w.op_update("db.c", {"a": 1}, {"$inc": {"n": 1}}),
                w.op_delete("db.c", {"a": 2}), w.op_get_more("db.c", 5), w.op_kill_cursors([1, 2]),
                w.op_compressed(w.op_msg({"ping": 1, "$db": "admin"}))]
    replies = [w.op_reply([{"n": 1}, {"n": 2}], response_to=3), w.op_reply([{"$err": "boom"}]),
               w.op_msg({"ok": 1.0, "cursor": {"firstBatch": [{"a": 1}], "id": 9}}, response_to=1),
               w.op_msg({"ok": 0.0, "errmsg": "no"}), w.op_compressed(w.op_reply([{"ok": 1}]), 0)]
    parsers: dict[bool, MongoStreamParser] = {}
    for i in range(200_000):
        from_client = bool(i & 1)
        if i % 64 == 0:
            parsers.clear()
        parser = parsers.get(from_client)
        if parser is None:
            direction = Direction.REQUEST if from_client else Direction.RESPONSE
            parser = parsers[from_client] = MongoStreamParser(CONFIG, direction, _quiet)
        try:
            if i % 101 == 0:
                parser.receive_gap(rng.randint(1, 300), float(i))
            else:
                parser.receive_data(_mutate(rng, requests if from_client else replies), float(i))
        except ProtocolError:
            parsers.pop(from_client)
