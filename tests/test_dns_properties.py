"""Property tests: only DnsProtocolError escapes any input, and TCP splits do not change the messages."""

from __future__ import annotations

import contextlib

import dns_wire as w
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.dns import MODULE
from packetshipper.modules.dns.messages import DnsMessage
from packetshipper.modules.dns.parser import DnsStreamParser, parse_message
from packetshipper.modules.dns.wire import DnsProtocolError
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import validate

labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
names = st.lists(labels, min_size=1, max_size=4).map(".".join)
addresses4 = st.ip_addresses(v=4).map(str)
addresses6 = st.ip_addresses(v=6).map(str)


@st.composite
def records(draw: st.DrawFn) -> bytes:
    owner = draw(names)
    kind = draw(st.sampled_from(["a", "aaaa", "cname", "mx", "txt", "srv", "soa", "caa", "ds", "unknown"]))
    if kind == "a":
        return w.rr(owner, w.A, w.a(draw(addresses4)))
    if kind == "aaaa":
        return w.rr(owner, w.AAAA, w.aaaa(draw(addresses6)))
    if kind == "cname":
        return w.rr(owner, w.CNAME, w.name(draw(names)))
    if kind == "mx":
        return w.rr(owner, w.MX, w.mx(draw(st.integers(0, 65535)), draw(names)))
    if kind == "txt":
        return w.rr(owner, w.TXT, w.character_strings(*draw(st.lists(st.binary(max_size=40), min_size=1, max_size=3))))
    if kind == "srv":
        return w.rr(owner, w.SRV, w.srv(1, 2, draw(st.integers(0, 65535)), draw(names)))
    if kind == "soa":
        return w.rr(owner, w.SOA, w.soa(draw(names), draw(names), 1, 2, 3, 4, 5))
    if kind == "caa":
        return w.rr(owner, w.CAA, w.caa(0, b"issue", draw(st.binary(max_size=30))))
    if kind == "ds":
        return w.rr(owner, w.DS, w.ds(draw(st.integers(0, 65535)), 8, 2, draw(st.binary(min_size=32, max_size=32))))
    return w.rr(owner, draw(st.integers(1000, 2000)), draw(st.binary(max_size=30)))


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    extra = [w.opt(draw(st.integers(512, 4096)), do=draw(st.booleans()))] if draw(st.booleans()) else []
    return w.message(
        ident=draw(st.integers(0, 65535)),
        header_flags=w.flags(qr=draw(st.booleans()), rd=draw(st.booleans()), rcode=draw(st.integers(0, 15))),
        questions=[w.question(draw(names), draw(st.integers(1, 300)))],
        answers=draw(st.lists(records(), max_size=4)),
        authorities=draw(st.lists(records(), max_size=2)),
        additionals=draw(st.lists(records(), max_size=2)) + extra,
    )


def content(msg: DnsMessage) -> tuple[object, ...]:
    return (msg.header, msg.questions, msg.answers, msg.authorities, msg.additionals, msg.edns, msg.length, msg.trailing)


@settings(max_examples=400)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(DnsProtocolError):
        parse_message(data, 0.0)


@settings(max_examples=300)
@given(messages(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_messages_raise_only_protocol_error(data: bytes, edits: list[tuple[int, int]]) -> None:
    corrupted = bytearray(data)
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    with contextlib.suppress(DnsProtocolError):
        parse_message(bytes(corrupted), 0.0)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=80), max_size=10))
def test_arbitrary_tcp_segments_raise_only_protocol_error(chunks: list[bytes]) -> None:
    parser = DnsStreamParser()
    try:
        for chunk in chunks:
            parser.receive_data(chunk, 0.0)
        parser.receive_eof(0.0)
    except DnsProtocolError:
        pass


@settings(max_examples=200)
@given(messages())
def test_generated_messages_parse_without_malformed_records(data: bytes) -> None:
    msg = parse_message(data, 0.0)
    assert msg.length == len(data) and msg.trailing == 0
    assert msg.malformed_records == 0


@settings(max_examples=200)
@given(st.lists(messages(), min_size=1, max_size=4), st.data())
def test_random_tcp_splits_give_the_same_messages(batch: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(w.tcp(m) for m in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    parser = DnsStreamParser()
    out: list[DnsMessage] = []
    for chunk in chunks:
        out += parser.receive_data(chunk, 0.0)
    assert parser.receive_eof(0.0) == []
    assert [content(m) for m in out] == [content(parse_message(m, 0.0, len(m) + 2)) for m in batch]


CONN = Connection("udp", 4, Endpoint("192.0.2.10", 50000), Endpoint("192.0.2.53", 53))
DNS = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "dns", "include_authorities": True,
                                                                "include_additionals": True, "send_request": True,
                                                                "send_response": True}))  # fmt: skip


@settings(max_examples=200)
@given(messages(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3))
def test_any_parsed_message_makes_an_event_that_fits_the_schema(data: bytes, edits: list[tuple[int, int]]) -> None:
    corrupted = bytearray(data)
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    try:
        (msg,) = DNS.parse_datagram(bytes(corrupted), 5.0, Direction.REQUEST, CONN)
    except DnsProtocolError:
        return
    correlator = DNS.correlator(CONN)
    txns = correlator.on_message(Direction.REQUEST, msg, 5.0) + correlator.close(6.0)
    assert len(txns) == 1
    event = transaction_event("dns", txns[0], DNS.event_fields(txns[0]))
    assert validate_event(event) == []
