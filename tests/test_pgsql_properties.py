"""Property tests for the pgsql parsers: random splits give the same messages, and nothing but
ProtocolError escapes any input (hypothesis; plus a 200,000-input fuzz run marked slow)."""

from __future__ import annotations

import random
from typing import Any

import pgsql_wire as w
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.pgsql.correlator import PgsqlCorrelator
from packetshipper.modules.pgsql.parser import BackendParser, FrontendParser, Negotiation
from packetshipper.modules.pgsql.settings import PgsqlConfig
from packetshipper.protocol import Connection, Direction, Endpoint, ProtocolError

CONFIG = PgsqlConfig.from_mapping({"max_rows": 3, "max_row_length": 20, "max_message_size": 200,
                                   "send_response": True})
CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 5432))
_text = st.text(alphabet="abc xyz;'$019\n", max_size=30)
_value = st.one_of(st.none(), _text)


def _quiet(name: str, n: int = 1) -> None:
    pass


_frontend_message = st.one_of(
    _text.map(w.query),
    st.tuples(_text, _text).map(lambda a: w.parse(a[0], name=a[1])),
    st.lists(st.one_of(st.none(), st.binary(max_size=8)), max_size=3).map(w.bind),
    st.just(w.describe("P")), st.just(w.execute()), st.just(w.sync()), st.just(w.flush()),
    st.binary(max_size=40).map(w.copy_data), st.just(w.copy_done()), _text.map(w.password),
)
_backend_message = st.one_of(
    st.lists(_text, min_size=1, max_size=3).map(lambda names: w.row_description(*names)),
    st.lists(_value, max_size=3).map(lambda values: w.data_row(*values)),
    _text.map(w.command_complete), st.sampled_from("ITE").map(w.ready),
    st.tuples(_text, _text).map(lambda a: w.error(a[0], a[1])),
    st.tuples(_text, _text).map(lambda a: w.notice(a[0], a[1])),
    st.just(w.empty_query()), st.just(w.parse_complete()), st.just(w.bind_complete()), st.just(w.auth(0)),
    st.binary(max_size=300).map(w.copy_data),  # over max_message_size sometimes: skipped
)


def _cuts(total: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=total), max_size=12)


@settings(max_examples=200)
@given(st.lists(_frontend_message, min_size=1, max_size=6), st.data())
def test_frontend_split_anywhere_parses_the_same(messages: list[bytes], data: st.DataObject) -> None:
    wire = w.startup(user="u") + b"".join(messages)
    whole = w.feed(FrontendParser(CONFIG, Negotiation(), _quiet), wire)
    assert sum(m.size for m in whole) <= len(wire)
    split = w.feed_split(FrontendParser(CONFIG, Negotiation(), _quiet), wire, data.draw(_cuts(len(wire))))
    assert split == whole


@settings(max_examples=200)
@given(st.lists(_backend_message, min_size=1, max_size=8), st.data())
def test_backend_split_anywhere_parses_the_same(messages: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(messages)
    try:
        whole = w.feed(BackendParser(CONFIG, Negotiation(), _quiet), wire)
    except ProtocolError:  # a DataRow wider than the RowDescription's format list is fine; others may not be
        with pytest.raises(ProtocolError):
            w.feed_split(BackendParser(CONFIG, Negotiation(), _quiet), wire, data.draw(_cuts(len(wire))))
        return
    split = w.feed_split(BackendParser(CONFIG, Negotiation(), _quiet), wire, data.draw(_cuts(len(wire))))
    assert split == whole


def _drive(steps: list[tuple[str, Any]]) -> None:
    """Feed both directions as the core would: a ProtocolError makes that side start over."""
    negotiation = Negotiation()
    parsers: dict[Direction, Any] = {}
    correlator = PgsqlCorrelator(CONN, CONFIG, 10.0, _quiet)
    factory = {Direction.REQUEST: FrontendParser, Direction.RESPONSE: BackendParser}
    for ts, (kind, direction, arg) in enumerate(steps):
        parser = parsers.get(direction)
        if parser is None:
            parser = parsers[direction] = factory[direction](CONFIG, negotiation, _quiet)
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


_direction = st.sampled_from([Direction.REQUEST, Direction.RESPONSE])
_steps = st.lists(st.one_of(
    st.tuples(st.just("data"), _direction, st.binary(max_size=64)),
    st.tuples(st.just("gap"), _direction, st.integers(min_value=1, max_value=3000)),
    st.tuples(st.just("eof"), _direction, st.none()),
), max_size=30)


@settings(max_examples=300)
@given(_steps)
def test_arbitrary_bytes_raise_only_protocol_error(steps: list[tuple[str, Any, Any]]) -> None:
    _drive(steps)


@settings(max_examples=300)
@given(st.lists(st.tuples(_direction, st.one_of(_frontend_message, _backend_message)), min_size=1, max_size=8),
       st.data())
def test_mutated_conversations_raise_only_protocol_error(messages: list[tuple[Direction, bytes]],
                                                         data: st.DataObject) -> None:
    steps: list[tuple[str, Any, Any]] = [("data", Direction.REQUEST, w.startup(user="u"))]
    for direction, raw in messages:
        wire = bytearray(raw)
        if data.draw(st.booleans()):
            wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.sampled_from(b"\x00\xff\x7fZDTCEQSN"))
        steps.append(("data", direction, bytes(wire)))
        if data.draw(st.integers(0, 5)) == 0:
            steps.append(("gap", direction, data.draw(st.integers(1, 50))))
    _drive(steps)


def _mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    wire = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(0, 4)):
        choice = rng.random()
        if choice < 0.5 and wire:
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif choice < 0.7 and wire:
            del wire[rng.randrange(len(wire)):]
        elif choice < 0.9:
            wire[rng.randrange(len(wire) + 1):0] = rng.choice(corpus)
        else:
            wire += rng.randbytes(rng.randint(1, 16))
    return bytes(wire)


@pytest.mark.slow
def test_fuzz_200000_inputs_raise_only_protocol_error() -> None:
    rng = random.Random(8)
    front = [w.startup(user="u", database="d"), w.ssl_request(), w.query("SELECT 1; SELECT 'a;b'"),
             w.parse("SELECT $1", "s") + w.bind([b"1"], "s") + w.describe() + w.execute() + w.sync(),
             w.copy_data(b"1\t2\n") + w.copy_done(), w.password("pw"), w.terminate()]
    back = [w.ssl_answer(False), w.login_ok(), w.select_result(["a", "b"], [["1", None], ["x", "y"]]) + w.ready(),
            w.error("42601", "syntax error") + w.ready("E"), w.notice("00000", "hi"),
            w.parse_complete() + w.bind_complete() + w.data_row("9") + w.command_complete("SELECT 1"),
            w.copy_out_response() + w.copy_data(b"row\n") + w.copy_data(b"") + w.command_complete("COPY 1")]
    negotiation = Negotiation()
    parsers: dict[bool, Any] = {}
    for i in range(200_000):
        client = bool(i & 1)
        if i % 64 == 0:  # a new connection now and then
            negotiation = Negotiation()
            parsers.clear()
        parser = parsers.get(client)
        if parser is None:
            parser = parsers[client] = (FrontendParser if client else BackendParser)(CONFIG, negotiation, _quiet)
        try:
            if i % 97 == 0:
                parser.receive_gap(rng.randint(1, 400), float(i))
            else:
                parser.receive_data(_mutate(rng, front if client else back), float(i))
        except ProtocolError:
            parsers.pop(client)
