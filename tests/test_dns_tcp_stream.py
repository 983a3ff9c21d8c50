"""DNS over TCP: 2-byte length prefix, several messages per connection, bounded buffer."""

from __future__ import annotations

import dns_wire as w
import pytest
from packetshipper.modules.dns.messages import DnsMessage
from packetshipper.modules.dns.parser import DnsStreamParser, parse_message
from packetshipper.modules.dns.wire import DnsProtocolError

QUERY = w.query("etas.com", 252, ident=0)
RESPONSE = w.message(
    ident=0,
    header_flags=w.flags(qr=True, aa=True),
    questions=[w.question("etas.com", 252)],
    answers=[
        w.rr("etas.com", w.SOA, w.soa("training2003p", "hostmaster", 3, 60, 600, 86400, 3600), ttl=3600),
        w.rr("etas.com", w.NS, w.name("training2003p"), ttl=3600),
        w.rr("welcome.etas.com", w.A, w.a("1.1.1.1"), ttl=3600),
    ],
)
CASES = {"query": QUERY, "response": RESPONSE}


def feed(parser: DnsStreamParser, chunks: list[bytes], ts: float = 1.0) -> list[DnsMessage]:
    out: list[DnsMessage] = []
    for chunk in chunks:
        out += parser.receive_data(chunk, ts)
    return out


def content(msg: DnsMessage) -> tuple[object, ...]:
    return (msg.header, msg.questions, msg.answers, msg.authorities, msg.additionals, msg.edns, msg.length)


@pytest.mark.parametrize("case", CASES)
def test_whole_message(case: str) -> None:
    (msg,) = feed(DnsStreamParser(), [w.tcp(CASES[case])])
    expected = parse_message(CASES[case], 1.0)
    assert msg.length == len(CASES[case]) + 2  # Packetbeat counts the length prefix
    assert content(msg)[:-1] == content(expected)[:-1]


@pytest.mark.parametrize("case", CASES)
def test_one_byte_at_a_time(case: str) -> None:
    data = w.tcp(CASES[case])
    parser = DnsStreamParser()
    out = feed(parser, [data[i : i + 1] for i in range(len(data))])
    assert [content(m) for m in out] == [content(parse_message(CASES[case], 0.0, len(data)))]
    assert parser.buffered == 0


@pytest.mark.parametrize("case", CASES)
def test_trailing_bytes_wait_for_the_next_message(case: str) -> None:
    parser = DnsStreamParser()
    (msg,) = feed(parser, [w.tcp(CASES[case]) + b"\x00\x1e\x00"])
    assert msg.header.id == 0
    assert parser.buffered == 3
    with pytest.raises(DnsProtocolError, match="stream ended inside a message"):
        parser.receive_eof(2.0)


def test_several_messages_in_one_segment_and_across_segments() -> None:
    stream = w.tcp(w.query("a.example", ident=1)) + w.tcp(w.query("b.example", ident=2)) + w.tcp(w.query("c.example", ident=3))
    parser = DnsStreamParser()
    first = parser.receive_data(stream[:40], 1.0)
    rest = parser.receive_data(stream[40:], 2.0)
    assert [m.header.id for m in first] == [1]
    assert [m.header.id for m in rest] == [2, 3]
    # the second message's first bytes came with the first segment, so it started then
    assert [m.ts for m in first + rest] == [1.0, 1.0, 2.0]


def test_message_time_is_the_arrival_of_its_first_byte() -> None:
    data = w.tcp(QUERY)
    parser = DnsStreamParser()
    assert parser.receive_data(data[:5], 10.0) == []
    (msg,) = parser.receive_data(data[5:], 11.0)
    assert msg.ts == 10.0


@pytest.mark.parametrize("length", [0, 11])
def test_length_shorter_than_a_header_is_refused(length: int) -> None:
    with pytest.raises(DnsProtocolError, match="shorter than a DNS header"):
        DnsStreamParser().receive_data(length.to_bytes(2, "big") + bytes(length), 0.0)


def test_length_over_max_message_size_is_refused_and_counted() -> None:
    counts: dict[str, int] = {}
    parser = DnsStreamParser(max_message_size=100, count=lambda k, n: counts.__setitem__(k, counts.get(k, 0) + n))
    with pytest.raises(DnsProtocolError, match="max_message_size 100"):
        parser.receive_data(b"\x00\x65", 0.0)
    assert counts == {"messages_too_large": 1}
    assert parser.buffered == 0


def test_good_messages_before_a_bad_one_are_returned_and_the_error_comes_next() -> None:
    parser = DnsStreamParser()
    good = w.tcp(QUERY)
    bad = b"\x00\x11" + bytes.fromhex("000000000001000000000000") + b"\x03abc\xc0"  # question name cut
    out = parser.receive_data(good + bad, 0.0)
    assert [m.header.id for m in out] == [0]
    with pytest.raises(DnsProtocolError):
        parser.receive_data(w.tcp(QUERY), 1.0)


def test_trailing_bytes_inside_a_framed_message_are_counted() -> None:
    counts: dict[str, int] = {}
    parser = DnsStreamParser(count=lambda k, n: counts.__setitem__(k, counts.get(k, 0) + n))
    (msg,) = parser.receive_data(w.tcp(QUERY + b"\xff\xff"), 0.0)
    assert msg.trailing == 2
    assert counts == {"trailing_bytes": 2}


def test_eof_on_a_clean_boundary_is_quiet() -> None:
    parser = DnsStreamParser()
    feed(parser, [w.tcp(QUERY)])
    assert parser.receive_eof(1.0) == []
