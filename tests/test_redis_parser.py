"""The RESP2/RESP3 reader: each case fed whole, one byte at a time, and followed by the start of a
message that never completes. Expected renderings come from the specification's meaning and from
Packetbeat's rendering rules (arrays as `[a, b]`, a null as `nil`, a command as its arguments)."""

from __future__ import annotations

from typing import Any

import pytest
import redis_wire as w
from packetshipper.modules.redis.messages import RedisRequest, RedisResponse
from packetshipper.modules.redis.resp import Limits, RespParser
from packetshipper.protocol import ProtocolError

LIMITS = Limits(max_message_size=1 << 20, max_line_length=64 * 1024)


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def parser(*, request: bool, limits: Limits = LIMITS, counts: Counts | None = None) -> RespParser:
    return RespParser(limits, request=request, count=counts if counts is not None else Counts())


def feed_whole(data: bytes, *, request: bool, **kw: Any) -> list[Any]:
    return parser(request=request, **kw).receive_data(data, 1.0)


def feed_bytewise(data: bytes, *, request: bool, **kw: Any) -> list[Any]:
    p = parser(request=request, **kw)
    out: list[Any] = []
    for i in range(len(data)):
        out += p.receive_data(data[i:i + 1], 1.0 + i)
    return out


def feed_with_trailing(data: bytes, *, request: bool, **kw: Any) -> list[Any]:
    trailing = b"*3\r\n$3\r\nSET\r\n$1\r\nk" if request else b"*2\r\n:1\r\n$5\r\nhel"
    return parser(request=request, **kw).receive_data(data + trailing, 1.0)


FEEDS = [feed_whole, feed_bytewise, feed_with_trailing]

REPLIES = [
    ("simple string", w.simple("OK"), "+", b"OK", False),
    ("error", w.error("ERR unknown command 'FOO'"), "-", b"ERR unknown command 'FOO'", True),
    ("integer", w.integer(-42), ":", b"-42", False),
    ("bulk string", w.bulk("hello\r\nworld"), "$", b"hello\r\nworld", False),
    ("empty bulk string", w.bulk(""), "$", b"", False),
    ("null bulk string", w.NULL_BULK, "$", b"nil", False),
    ("null array", w.NULL_ARRAY, "*", b"nil", False),
    ("empty array", w.array(), "*", b"[]", False),
    ("array", w.array(w.bulk("a"), w.integer(1), w.NULL_BULK), "*", b"[a, 1, nil]", False),
    ("nested array", w.array(w.array(w.bulk("x"), w.bulk("y")), w.simple("z")), "*", b"[[x, y], z]", False),
    ("array holding an error", w.array(w.simple("OK"), w.error("ERR x")), "*", b"[OK, ERR x]", False),
    ("RESP3 null", w.NULL, "_", b"nil", False),
    ("RESP3 map", w.map_((w.simple("first"), w.integer(1)), (w.bulk("second"), w.integer(2))), "%",
     b"{first: 1, second: 2}", False),
    ("RESP3 empty map", w.map_(), "%", b"{}", False),
    ("RESP3 set", w.set_(w.bulk("orange"), w.bulk("apple")), "~", b"[orange, apple]", False),
    ("RESP3 double", w.double("1.23"), ",", b"1.23", False),
    ("RESP3 double inf", w.double("-inf"), ",", b"-inf", False),
    ("RESP3 double exponent", w.double("1.5e-10"), ",", b"1.5e-10", False),
    ("RESP3 big number", w.bignum("3492890328409238509324850943850943825024385"), "(",
     b"3492890328409238509324850943850943825024385", False),
    ("RESP3 true", w.boolean(True), "#", b"true", False),
    ("RESP3 false", w.boolean(False), "#", b"false", False),
    ("RESP3 verbatim string", w.verbatim("txt", "Some string"), "=", b"Some string", False),
    ("RESP3 bulk error", w.bulk_error("SYNTAX invalid syntax"), "!", b"SYNTAX invalid syntax", True),
    ("RESP3 push", w.push(w.bulk("message"), w.bulk("ch"), w.bulk("hi")), ">", b"[message, ch, hi]", False),
    ("RESP3 attribute before a reply", w.attribute([(w.bulk("ttl"), w.integer(3600))], w.bulk("value")), "$",
     b"value", False),
    ("RESP3 attribute inside an array",
     w.array(w.integer(1), w.attribute([(w.simple("key-popularity"), w.double("0.19"))], w.integer(2))), "*",
     b"[1, 2]", False),
    ("RESP3 streamed string", w.streamed_string(b"Hell", b"o wor", b"ld"), "$", b"Hello world", False),
    ("RESP3 streamed array", w.streamed_array(w.integer(1), w.bulk("two"), w.streamed_array()), "*",
     b"[1, two, []]", False),
    ("RESP3 map of arrays", w.map_((w.bulk("k"), w.array(w.integer(1), w.integer(2)))), "%", b"{k: [1, 2]}", False),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "wire", "kind", "text", "is_error"), REPLIES, ids=[r[0] for r in REPLIES])
def test_replies_render_as_packetbeat_does(feed: Any, name: str, wire: bytes, kind: str, text: bytes,
                                            is_error: bool) -> None:
    (reply,) = feed(wire, request=False)
    assert isinstance(reply, RedisResponse)
    assert (reply.kind, reply.text, reply.is_error) == (kind, text, is_error)
    assert reply.size == len(wire)
    assert not reply.truncated


COMMANDS = [
    ("get", w.command("GET", "key3"), "GET", b"key3", b"GET key3", 2),
    ("lower-case set", w.command("set", "key3", "me"), "SET", b"key3", b"set key3 me", 3),
    ("no arguments", w.command("PING"), "PING", None, b"PING", 1),
    ("container command", w.command("config", "get", "maxmemory"), "CONFIG GET", b"maxmemory",
     b"config get maxmemory", 3),
    ("container alone", w.command("COMMAND"), "COMMAND", None, b"COMMAND", 1),
    ("binary-safe value", w.command("SET", "k", "a b\r\nc"), "SET", b"k", b"SET k a b\r\nc", 3),
    ("inline", w.inline("set foo bar"), "SET", b"foo", b"set foo bar", 3),
    ("inline with LF only", b"PING\n", "PING", None, b"PING", 1),
    ("inline with quotes", w.inline('SET "my key" \'it\\\'s\' "\\x41\\n"'), "SET", b"my key",
     b"SET my key it's A\n", 4),
    ("inline with spaces around", w.inline("   incr   counter  "), "INCR", b"counter", b"incr counter", 2),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "wire", "method", "resource", "query", "argc"), COMMANDS,
                         ids=[c[0] for c in COMMANDS])
def test_commands_give_method_resource_and_query(feed: Any, name: str, wire: bytes, method: str,
                                                 resource: bytes | None, query: bytes, argc: int) -> None:
    (req,) = feed(wire, request=True)
    assert isinstance(req, RedisRequest)
    assert (req.method, req.resource, req.query, req.argc) == (method, resource, query, argc)
    assert req.size == len(wire)
    assert req.inline == (not wire.startswith(b"*"))


@pytest.mark.parametrize("feed", FEEDS)
def test_a_pipeline_in_one_segment_gives_every_message_in_order(feed: Any) -> None:
    requests = [w.command("SET", f"k{i}", str(i)) for i in range(50)] + [w.command("INCR", "k1"),
                                                                            w.command("LPUSH", "k2", "x")]
    out = feed(b"".join(requests), request=True)
    assert [r.query for r in out] == [b"SET k%d %d" % (i, i) for i in range(50)] + [b"INCR k1", b"LPUSH k2 x"]
    assert [r.size for r in out] == [len(r) for r in requests]
    replies = [w.simple("OK")] * 50 + [w.error("ERR value is not an integer or out of range"),
                                       w.error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    out = feed(b"".join(replies), request=False)
    assert [r.is_error for r in out] == [False] * 50 + [True, True]


def test_empty_inline_lines_are_skipped_like_the_server_does() -> None:
    (req,) = feed_whole(b"\r\n\n  \r\nPING\r\n", request=True)
    assert req.method == "PING" and req.size == 6


def test_empty_command_arrays_are_ignored_like_the_server_does() -> None:
    assert feed_whole(b"*0\r\n*-1\r\n", request=True) == []


def test_a_message_starts_at_its_first_byte() -> None:
    p = parser(request=False)
    assert p.receive_data(b"$5\r\nhel", 10.0) == []
    (reply,) = p.receive_data(b"lo\r\n+OK", 11.0)
    assert (reply.ts, reply.text) == (10.0, b"hello")
    (reply,) = p.receive_data(b"\r\n", 12.0)
    assert (reply.ts, reply.text) == (11.0, b"OK")


BAD_REPLIES = [
    ("not a RESP type", b"hello\r\n"),
    ("bad integer", b":12a\r\n"),
    ("bad bulk length", b"$x\r\n"),
    ("negative bulk length", b"$-2\r\n"),
    ("bulk too long for the server", b"$%d\r\n" % (512 * 1024 * 1024 + 1)),
    ("bulk without CRLF", b"$3\r\nabcXY"),
    ("bad array length", b"*-5\r\n"),
    ("null map", b"%-1\r\n"),
    ("bad double", b",abc\r\n"),
    ("bad boolean", b"#x\r\n"),
    ("bytes after a null", b"_x\r\n"),
    ("end outside a streamed aggregate", b".\r\n"),
    ("chunk outside a streamed string", b";3\r\nabc\r\n"),
    ("streamed string with a non-chunk", b"$?\r\n+OK\r\n"),
    ("empty line", b"\r\n"),
    ("too deep", b"*1\r\n" * 40 + b":1\r\n"),
]


@pytest.mark.parametrize(("name", "wire"), BAD_REPLIES, ids=[b[0] for b in BAD_REPLIES])
def test_malformed_replies_raise_protocol_error(name: str, wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_whole(wire, request=False)


def test_unbalanced_inline_quotes_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        feed_whole(b'SET "open\r\n', request=True)
    with pytest.raises(ProtocolError):
        feed_whole(b'SET "closed"glued\r\n', request=True)


def test_a_line_over_max_line_length_is_a_counted_protocol_error() -> None:
    counts = Counts()
    p = parser(request=True, limits=Limits(max_message_size=1 << 20, max_line_length=100), counts=counts)
    p.receive_data(b"SET k " + b"v" * 90, 1.0)
    with pytest.raises(ProtocolError):
        p.receive_data(b"v" * 20, 2.0)
    assert counts == {"lines_too_long": 1}


def test_a_reply_over_max_message_size_is_read_whole_and_kept_in_part() -> None:
    counts = Counts()
    limits = Limits(max_message_size=1000, max_line_length=1024)
    p = parser(request=False, limits=limits, counts=counts)
    value = bytes(range(256)) * 40_000  # 10 MB, fed in 64 KiB segments
    wire = w.bulk(value) + w.simple("OK")
    out: list[Any] = []
    for i in range(0, len(wire), 65536):
        out += p.receive_data(wire[i:i + 65536], 1.0)
        assert len(p._buf) <= 65536 + 1024  # never the whole value
    big, ok = out
    assert big.text == value[:1000] and big.truncated and big.size == len(w.bulk(value))
    assert ok.text == b"OK" and not ok.truncated
    assert counts == {"messages_truncated": 1}


def test_a_huge_array_of_small_elements_is_bounded_too() -> None:
    limits = Limits(max_message_size=100, max_line_length=1024)
    wire = w.array(*[w.integer(i) for i in range(100_000)])
    (reply,) = parser(request=False, limits=limits).receive_data(wire, 1.0)
    assert reply.truncated and len(reply.text) == 100 and reply.count == 100_000
    assert reply.text.startswith(b"[0, 1, 2, 3")


def test_a_gap_inside_a_bulk_string_is_stepped_over() -> None:
    counts = Counts()
    p = parser(request=False, counts=counts)
    assert p.receive_data(b"$10\r\nabc", 1.0) == []
    assert p.receive_gap(4, 2.0) == []
    (reply,) = p.receive_data(b"hij\r\n", 3.0)
    assert reply.gap and reply.text == b"abchij" and reply.size == len(w.bulk("x" * 10))
    assert counts == {"gaps_in_values": 1}


def test_a_gap_outside_a_bulk_string_raises() -> None:
    p = parser(request=False)
    p.receive_data(b"+O", 1.0)
    with pytest.raises(ProtocolError):
        p.receive_gap(3, 2.0)


def test_close_inside_a_message_is_counted() -> None:
    counts = Counts()
    p = parser(request=False, counts=counts)
    p.receive_data(b"*2\r\n:1\r\n", 1.0)
    assert p.receive_eof(2.0) == []
    assert counts == {"messages_cut_by_close": 1}


@pytest.mark.parametrize("feed", FEEDS)
def test_a_key_longer_than_a_line_is_kept_to_max_line_length_in_resource(feed: Any) -> None:
    limits = Limits(max_message_size=1 << 20, max_line_length=100)
    (req,) = feed(w.command("SET", "k" * 500, "v"), request=True, limits=limits)
    assert req.resource == b"k" * 100 and req.query == b"SET " + b"k" * 500 + b" v"
