"""The compiled DNS parse (_dns_parse.pxi) gives the reference's message (`read_message`) for the shapes it
takes, and declines (None) the rest, damage included, so that the reference parses them and raises its
errors. Its common shape: plain names without pointers in the questions; A/AAAA answers and authorities
owned by such names or by a pointer to the first question; no additional records."""

from __future__ import annotations

import importlib
import struct
from typing import Any

import dns_wire as w
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.dns.messages import DnsMessage, Header, Question, Record
from packetshipper.modules.dns.parser import read_message
from packetshipper.modules.dns.wire import DnsProtocolError
from test_dns_properties import messages

try:
    COMPILED: Any = importlib.import_module("packetshipper._hotpath")
except ImportError:  # pragma: no cover - the build failed: nothing to compare
    COMPILED = None

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

TO_QUESTION = b"\xc0\x0c"
plain_labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_*", min_size=1, max_size=63)
names = st.lists(plain_labels, min_size=1, max_size=5).map(".".join)
odd_labels = st.binary(min_size=1, max_size=12)  # escapes, dots inside labels, binary


def _compiled(data: bytes, wire_length: int | None = None) -> DnsMessage | None:
    return COMPILED.dns_parse(data, 1.5, wire_length, Header, Question, Record, DnsMessage)  # type: ignore[no-any-return]


def _rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack("!HHIH", rtype, w.IN, ttl, len(rdata)) + rdata


@st.composite
def common_messages(draw: st.DrawFn) -> bytes:
    """Messages of the compiled parse's shape, and a few just outside it."""
    questions = [w.question(draw(names), draw(st.integers(0, 65535)), draw(st.integers(0, 65535)))
                 for _ in range(draw(st.integers(0, 2)))]

    def record() -> bytes:
        owner = draw(st.sampled_from(["pointer", "name", "odd name", "root"]))
        owner_bytes = (TO_QUESTION if owner == "pointer" else w.name(draw(names)) if owner == "name"
                       else w.raw_name(*draw(st.lists(odd_labels, min_size=1, max_size=3))) if owner == "odd name"
                       else b"\x00")
        kind = draw(st.sampled_from(["a", "aaaa", "a", "short a", "cname"]))
        ttl = draw(st.sampled_from([0, 300, 0xFFFFFFFF]))
        if kind == "a":
            return _rr(owner_bytes, w.A, w.a(draw(st.ip_addresses(v=4).map(str))), ttl)
        if kind == "aaaa":
            return _rr(owner_bytes, w.AAAA, w.aaaa(draw(st.ip_addresses(v=6).map(str))), ttl)
        if kind == "short a":
            return _rr(owner_bytes, w.A, b"\x01\x02\x03", ttl)
        return _rr(owner_bytes, w.CNAME, w.name(draw(names)), ttl)

    answers = [record() for _ in range(draw(st.integers(0, 3)))]
    authorities = [record() for _ in range(draw(st.integers(0, 1)))]
    flags = draw(st.integers(0, 0xFFFF))
    data = w.message(draw(st.integers(0, 0xFFFF)), flags, questions, answers, authorities)
    return data + draw(st.sampled_from([b"", b"\x00", b"xyz"]))


def _same_as_reference(data: bytes, wire_length: int | None = None) -> DnsMessage | None:
    got = _compiled(data, wire_length)
    try:
        expected = read_message(data, 1.5, wire_length)
    except DnsProtocolError:
        assert got is None  # damage: the reference raises its error
        return None
    if got is not None:
        assert got == expected
        assert repr(got) == repr(expected)  # field for field, bools as bools
    return got


@settings(max_examples=500, deadline=None)
@given(common_messages(), st.sampled_from([None, 77]))
def test_the_compiled_parse_is_the_reference_or_declines(data: bytes, wire_length: int | None) -> None:
    _same_as_reference(data, wire_length)


@settings(max_examples=300, deadline=None)
@given(st.one_of(common_messages(), messages()), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                          min_size=1, max_size=6))
def test_damaged_messages_are_the_reference_or_declined(data: bytes, edits: list[tuple[int, int]]) -> None:
    corrupted = bytearray(data)
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    _same_as_reference(bytes(corrupted))
    _same_as_reference(bytes(corrupted[: edits[0][0] % (len(corrupted) + 1)]))  # cut short too


@settings(max_examples=200, deadline=None)
@given(messages())
def test_other_messages_are_the_reference_or_declined(data: bytes) -> None:
    _same_as_reference(data)


def test_a_query_and_its_answer_take_the_compiled_parse() -> None:
    query = w.query("www.example.com", ident=7)
    answer = w.message(7, w.flags(qr=True, rd=True, ra=True), [w.question("www.example.com")],
                       [_rr(TO_QUESTION, w.A, w.a("192.0.2.1")), _rr(TO_QUESTION, w.AAAA, w.aaaa("2001:db8::1"))])
    for data in (query, answer):
        assert _same_as_reference(data) is not None
    msg = _compiled(answer)
    assert msg is not None
    assert [(r.name, r.data, r.address) for r in msg.answers] == [
        ("www.example.com.", "192.0.2.1", "192.0.2.1"), ("www.example.com.", "2001:db8::1", "2001:db8::1")]
    assert msg.header.response and msg.header.recursion_available and msg.length == len(answer)


@pytest.mark.parametrize("data", [
    w.message(7, 0, [w.question(".")]),  # the root name
    w.message(7, 0, [w.raw_name(b"a.b", b"com") + struct.pack("!HH", 1, 1)]),  # an escaped dot
    w.message(7, 0, [w.question("example.com")], [], [], [_rr(TO_QUESTION, w.A, w.a("192.0.2.1"))]),  # additional
    w.message(7, 0, [w.question("example.com")], [_rr(TO_QUESTION, w.MX, w.mx(1, "mx.example.com"))]),
    w.message(7, 0, [], [_rr(TO_QUESTION, w.A, w.a("192.0.2.1"))]),  # a pointer with no question to name it
    w.message(7, 0, [w.question("example.com")])[:-1],  # cut short
], ids=["root", "escaped", "additional", "mx", "pointer without question", "cut short"])
def test_shapes_outside_the_common_one_are_left_to_the_reference(data: bytes) -> None:
    assert _compiled(data) is None
    _same_as_reference(data)
