"""Property tests: random splits of valid traffic give the same packets and the same transactions, and
arbitrary bytes in either direction raise nothing but ProtocolError."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.mysql.framing import PacketFramer
from packetshipper.modules.mysql.messages import ConnectionState
from packetshipper.protocol import Direction, ProtocolError
from test_mysql_wire import (
    CLASSIC,
    DEPRECATE,
    Session,
    command,
    err,
    greeting,
    login,
    ok,
    packet,
    prepare,
    prepare_ok,
    query,
    result_set,
)

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ,'\r\n\t", min_size=0, max_size=40)
_value = st.one_of(st.none(), _word)


@st.composite
def exchanges(draw: st.DrawFn, dialect: bool | None = None) -> tuple[bytes, bytes, str]:
    """One command and its answer, in the dialect given (or drawn)."""
    deprecate = draw(st.booleans()) if dialect is None else dialect
    kind = draw(st.sampled_from(["ok", "err", "rows", "prepare", "ping"]))
    sql = "SELECT " + draw(_word)
    if kind == "ok":
        return query(sql), ok(1, affected=draw(st.integers(0, 1 << 40))), "OK"
    if kind == "err":
        return query(sql), err(1, draw(st.integers(1000, 3000)), "42000", draw(_word)), "Error"
    if kind == "ping":
        return command(0x0E), ok(1), "OK"
    if kind == "prepare":
        params = draw(st.integers(0, 3))
        return prepare(sql), prepare_ok(draw(st.integers(1, 99)), ["a"] * draw(st.integers(0, 3)), params, deprecate), "OK"
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_value, min_size=width, max_size=width), max_size=6))
    return query(sql), result_set([f"c{i}" for i in range(width)], rows, deprecate_eof=deprecate), "OK"


def _cuts(total: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=total), max_size=10).map(sorted)


def _feed(parser: PacketFramer, data: bytes, cuts: list[int]) -> list[Any]:
    out: list[Any] = []
    start = 0
    for cut in [*cuts, len(data)]:
        out += parser.receive_data(data[start:cut], 1.0)
        start = max(start, cut)
    return out


def _framer(direction: Direction) -> PacketFramer:
    return PacketFramer(direction, ConnectionState(), 1 << 20, lambda name, n=1: None)


@settings(max_examples=200)
@given(st.lists(exchanges(), min_size=1, max_size=4), st.data())
def test_packets_split_anywhere_frame_the_same(items: list[tuple[bytes, bytes, str]], data: st.DataObject) -> None:
    for direction, wire in ((Direction.REQUEST, b"".join(c for c, _, _ in items)),
                            (Direction.RESPONSE, b"".join(s for _, s, _ in items))):
        whole = _framer(direction).receive_data(wire, 1.0)
        assert sum(p.wire_size for p in whole) == len(wire)
        split = _feed(_framer(direction), wire, data.draw(_cuts(len(wire))))
        assert [(p.seq, p.payload, p.length) for p in split] == [(p.seq, p.payload, p.length) for p in whole]


def _summary(session: Session) -> list[tuple[Any, ...]]:
    return [(t.status, t.error, t.request.query if t.request else None,
             t.response.num_rows if t.response else None, t.request_bytes, t.response_bytes)
            for t in session.transactions]


@settings(max_examples=200)
@given(st.booleans().flatmap(lambda deprecate: st.tuples(
    st.just(deprecate), st.lists(exchanges(deprecate), min_size=1, max_size=4))), st.integers(1, 64))
def test_conversations_split_anywhere_give_the_same_transactions(
        conversation: tuple[bool, list[tuple[bytes, bytes, str]]], chunk: int) -> None:
    deprecate, items = conversation
    caps = DEPRECATE if deprecate else CLASSIC
    whole, split = Session(commands=["*"]), Session(commands=["*"])
    for session, size in ((whole, 0), (split, chunk)):
        session.server(greeting(capabilities=caps), size).client(login("u", capabilities=caps), size)
        session.server(ok(2), size)
        for client, server, _ in items:
            session.client(client, size).server(server, size)
    assert _summary(split) == _summary(whole)
    assert [str(t.status) for t in whole.transactions][1:] == [status for _, _, status in items]


@settings(max_examples=400)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=120)), max_size=8))
def test_arbitrary_bytes_raise_nothing_but_protocol_error(pieces: list[tuple[bool, bytes]]) -> None:
    session = Session(commands=["*"], max_message_size=128, send_request=True, send_response=True)
    try:
        for from_client, data in pieces:
            session.send(from_client, data)
        session.close()
    except ProtocolError:
        pass
    session.events()  # every event built fits the schema


@settings(max_examples=300)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([
    query("SELECT 1"), ok(1), err(1, 1064, "42000", "x"), result_set(["a"], [["1"]], deprecate_eof=True),
    packet(1, b"\xfe\x00\x00\x02\x00"), packet(2, b"\x03def"), packet(0, b"\x0a5.7\x00"), prepare("SELECT ?"),
    prepare_ok(1, [], 1, False), login("x"), command(0x17, b"\x01\x00\x00\x00\x00\x01\x00\x00\x00")]),
    st.integers(0, 8)), max_size=12))
def test_valid_packets_in_any_order_and_cut_raise_nothing_but_protocol_error(
        pieces: list[tuple[bool, bytes, int]]) -> None:
    session = Session(commands=["*"], send_response=True)
    try:
        for from_client, data, cut in pieces:
            session.send(from_client, data[cut:])
        session.gap(False, 100).close()
    except ProtocolError:
        pass
    session.events()
