"""The memcache reader, text and binary: each case fed whole, one byte at a time, and followed by the
start of a message that never completes. Expected values come from protocol.txt's meaning."""

from __future__ import annotations

from typing import Any

import memcache_wire as w
import pytest
from packetshipper.modules.memcache.builder import ValueLimits
from packetshipper.modules.memcache.messages import McMessage
from packetshipper.modules.memcache.parser import McStreamParser
from packetshipper.protocol import ProtocolError

LIMITS = ValueLimits(max_values=-1, max_bytes_per_value=0)


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def parser(request: bool, limits: ValueLimits = LIMITS, counts: Counts | None = None,
           parse_unknown: bool = False) -> McStreamParser:
    return McStreamParser(limits, request=request, parse_unknown=parse_unknown,
                          count=counts if counts is not None else Counts())


def feed_whole(data: bytes, request: bool, **kw: Any) -> list[McMessage]:
    return parser(request, **kw).receive_data(data, 1.0)


def feed_bytewise(data: bytes, request: bool, **kw: Any) -> list[McMessage]:
    p = parser(request, **kw)
    out: list[McMessage] = []
    for i in range(len(data)):
        out += p.receive_data(data[i:i + 1], 1.0)
    return out


def feed_with_trailing(data: bytes, request: bool, **kw: Any) -> list[McMessage]:
    trailing = b"set k 0 0 10\r\nabc" if request else b"VALUE k 0 5\r\nab"
    if data[:1] in (b"\x80", b"\x81"):
        trailing = w.binary(w.SET, request=request, key=b"k", body=b"12345")[:28]
    return parser(request, **kw).receive_data(data + trailing, 1.0)


FEEDS = [feed_whole, feed_bytewise, feed_with_trailing]

REQUESTS: list[tuple[str, bytes, dict[str, Any]]] = [
    ("set", w.store("set", "k1", b"hello", flags=5, exptime=60),
     {"command": "set", "type": "Store", "keys": (b"k1",), "flags": 5, "exptime": 60, "value_bytes": 5,
      "count_values": 1, "values": (b"hello",), "noreply": False}),
    ("set noreply", w.store("add", "k", b"x\r\ny", noreply=True),
     {"command": "add", "noreply": True, "value_bytes": 4, "values": (b"x\r\ny",)}),
    ("cas", w.store("cas", "k", b"v", cas=99), {"command": "cas", "cas_unique": 99, "value_bytes": 1}),
    ("multi-get", w.line("get a b c"), {"command": "get", "type": "Load", "keys": (b"a", b"b", b"c"),
                                        "count_values": None}),
    ("gets", w.line("gets a"), {"command": "gets", "keys": (b"a",)}),
    ("gat", w.line("gat 30 a b"), {"command": "gat", "exptime": 30, "keys": (b"a", b"b")}),
    ("incr", w.line("incr cnt 7"), {"command": "incr", "type": "Counter", "keys": (b"cnt",), "delta": 7,
                                    "noreply": False}),
    ("delete noreply", w.line("delete k noreply"), {"command": "delete", "type": "Delete", "noreply": True}),
    ("touch", w.line("touch k 10"), {"command": "touch", "exptime": 10}),
    ("stats with args", w.line("stats slabs"), {"command": "stats", "type": "Stats", "raw_args": b"slabs"}),
    ("stats", w.line("stats"), {"command": "stats", "raw_args": b""}),
    ("flush_all", w.line("flush_all 10"), {"command": "flush_all", "exptime": 10}),
    ("verbosity", w.line("verbosity 1"), {"command": "verbosity", "verbosity": 1}),
    ("version", w.line("version"), {"command": "version", "type": "Info"}),
    ("quit", w.line("quit"), {"command": "quit"}),
    ("slabs reassign", w.line("slabs reassign 1 2"), {"command": "slabs reassign", "type": "SlabCtrl",
                                                      "source_class": 1, "dest_class": 2}),
    ("lru_crawler sleep", w.line("lru_crawler sleep 100"), {"command": "lru_crawler sleep", "sleep_us": 100}),
    ("LF-only line end", b"get k\n", {"command": "get", "keys": (b"k",)}),
    ("bad number", w.line("incr k x"), {"command": "incr", "notes": ("bad command line format",)}),
    ("meta get", w.line("mg k v k q Oab T30"), {"command": "mg", "type": "Load", "keys": (b"k",), "quiet": True,
                                                 "meta_opaque": b"ab", "exptime": 30}),
    ("meta set", b"ms k 3 F5 C9\r\nabc\r\n", {"command": "ms", "type": "Store", "flags": 5, "cas_unique": 9,
                                              "value_bytes": 3, "values": (b"abc",), "quiet": False}),
    ("meta arithmetic", w.line("ma n D5 J1"), {"command": "ma", "type": "Counter", "delta": 5, "initial": 1}),
    ("meta no-op", w.line("mn"), {"command": "mn", "type": "Info", "keys": ()}),
    ("binary set", w.binary(w.SET, key=b"k", extras=w.set_extras(3, 600), body=b"data", opaque=7),
     {"command": "set", "binary": True, "opcode": w.SET, "opaque": 7, "flags": 3, "exptime": 600,
      "value_bytes": 4, "count_values": 1, "values": (b"data",), "quiet": False, "keys": (b"k",)}),
    ("binary incrementq", w.binary(0x15, key=b"c", extras=w.counter_extras(2, 10, 0)),
     {"command": "incr", "delta": 2, "initial": 10, "exptime": 0, "quiet": True}),
    ("binary getkq", w.binary(w.GETKQ, key=b"k", opaque=3), {"command": "get", "quiet": True, "opaque": 3}),
    ("binary noop", w.binary(w.NOOP), {"command": "noop", "type": "Info", "keys": ()}),
    ("binary unknown opcode", w.binary(0x99, body=b"zz"), {"command": "UNKNOWN", "opcode": 0x99, "value_bytes": 2}),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "wire", "expect"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_requests(feed: Any, name: str, wire: bytes, expect: dict[str, Any]) -> None:
    (message,) = feed(wire, True)
    assert message.is_request and message.size == len(wire)
    assert {k: getattr(message, k) for k in expect} == expect


REPLIES: list[tuple[str, bytes, dict[str, Any]]] = [
    ("stored", w.line("STORED"), {"command": "STORED", "type": "Success"}),
    ("not found", w.line("NOT_FOUND"), {"command": "NOT_FOUND", "type": "Fail"}),
    ("client error", w.line("CLIENT_ERROR bad data chunk"), {"command": "CLIENT_ERROR",
                                                            "error_msg": b"bad data chunk"}),
    ("counter", w.line("42"), {"command": "<counter_op_res>", "type": "Counter", "value": 42}),
    ("version", w.line("VERSION 1.6.18"), {"command": "VERSION", "version": b"1.6.18"}),
    ("miss", w.line("END"), {"command": "END", "type": "Load", "keys": (), "count_values": None}),
    ("multi-get hits", w.value("a", b"1", flags=2) + w.value("c", b"333", cas=12) + w.line("END"),
     {"command": "VALUE", "type": "Load", "keys": (b"a", b"c"), "value_bytes": 4, "count_values": 2,
      "values": (b"1", b"333"), "cas_unique": 12}),
    ("value holding END", w.value("k", b"END\r\nVALUE x 0 1") + w.line("END"),
     {"keys": (b"k",), "values": (b"END\r\nVALUE x 0 1",)}),
    ("stats", w.line("STAT pid 1") + w.line("STAT version 1.6.18") + w.line("END"),
     {"command": "STAT", "type": "Stats", "stats": ((b"pid", b"1"), (b"version", b"1.6.18"))}),
    ("meta value", b"VA 2 kfoo f3 c77 Ox\r\nhi\r\n", {"command": "VA", "type": "Load", "keys": (b"foo",),
                                                      "flags": 3, "cas_unique": 77, "meta_opaque": b"x",
                                                      "value_bytes": 2}),
    ("meta stored", w.line("HD"), {"command": "HD", "type": "Success"}),
    ("meta miss", w.line("EN"), {"command": "EN", "type": "Load"}),
    ("meta not found", w.line("NF kfoo"), {"command": "NF", "type": "Fail", "keys": (b"foo",)}),
    ("stats cachedump", w.line("ITEM k1 [5 b; 0 s]") + w.line("ITEM k2 [1 b; 0 s]") + w.line("END"),
     {"command": "STAT", "type": "Stats", "stats": ((b"k1", b"[5 b; 0 s]"), (b"k2", b"[1 b; 0 s]"))}),
    ("lru_crawler metadump", w.line("key=k1 exp=-1 la=1 cas=2 fetch=no cls=1 size=63") + w.line("END"),
     {"command": "STAT", "stats": ((b"k1", b"exp=-1 la=1 cas=2 fetch=no cls=1 size=63"),)}),
    ("binary getk hit", w.binary(w.GETK, request=False, key=b"k", extras=b"\0\0\0\5", body=b"val", opaque=9,
                                 cas=77),
     {"command": "get", "binary": True, "keys": (b"k",), "flags": 5, "value_bytes": 3, "values": (b"val",),
      "opaque": 9, "cas_unique": 77, "status": 0}),
    ("binary not found", w.binary(w.GET, request=False, body=b"Not found", status=1),
     {"command": "get", "status": 1, "value_bytes": 9}),
    ("binary counter", w.binary(w.INCREMENT, request=False, body=(12).to_bytes(8, "big")),
     {"command": "incr", "value": 12, "value_bytes": None}),
    ("binary version", w.binary(w.VERSION, request=False, body=b"1.6.18"), {"version": b"1.6.18"}),
    ("binary stats", w.binary(w.STAT, request=False, key=b"pid", body=b"1", opaque=4)
     + w.binary(w.STAT, request=False, key=b"uptime", body=b"99", opaque=4) + w.binary(w.STAT, request=False,
                                                                                         opaque=4),
     {"command": "stats", "type": "Stats", "stats": ((b"pid", b"1"), (b"uptime", b"99")), "opaque": 4}),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "wire", "expect"), REPLIES, ids=[r[0] for r in REPLIES])
def test_replies(feed: Any, name: str, wire: bytes, expect: dict[str, Any]) -> None:
    (message,) = feed(wire, False)
    assert not message.is_request and message.size == len(wire)
    assert {k: getattr(message, k) for k in expect} == expect


def test_values_are_kept_only_as_maxvalues_and_maxbytespervalue_allow() -> None:
    reply = w.value("a", b"x" * 100) + w.value("b", b"y" * 100) + w.value("c", b"z") + w.line("END")
    (none,) = feed_whole(reply, False, limits=ValueLimits())
    assert none.values == () and none.count_values == 3 and none.value_bytes == 201
    (some,) = feed_whole(reply, False, limits=ValueLimits(max_values=2, max_bytes_per_value=10))
    assert some.values == (b"x" * 10, b"y" * 10) and some.count_values == 3


def test_a_pipeline_in_one_segment_gives_every_message() -> None:
    wire = b"".join(w.store("set", f"k{i}", b"v" * i) for i in range(20)) + w.line("get k1 k2")
    out = feed_whole(wire, True)
    assert [m.command for m in out] == ["set"] * 20 + ["get"]
    assert [m.value_bytes for m in out[:20]] == list(range(20))


BAD = [
    ("unknown text command", True, w.line("frobnicate x")),
    ("unknown reply", False, w.line("WHAT")),
    ("bad VALUE line", False, w.line("VALUE k x 3")),
    ("data without CRLF", True, b"set k 0 0 3\r\nabcXY"),
    ("reply magic in the request direction", True, w.binary(w.GET, request=False)),
    ("key longer than the body", False, w.HEADER.pack(0x81, 0, 10, 0, 0, 0, 5, 0, 0) + b"x" * 10),
    ("STAT inside VALUE", False, w.value("a", b"1") + w.line("STAT pid 1")),
]


@pytest.mark.parametrize(("name", "request_", "wire"), BAD, ids=[b[0] for b in BAD])
def test_malformed_input_raises_protocol_error(name: str, request_: bool, wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_whole(wire, request_)


def test_parseunknown_publishes_unknown_commands_with_their_line() -> None:
    counts = Counts()
    (message,) = feed_whole(w.line("frobnicate x y"), True, parse_unknown=True, counts=counts)
    assert (message.command, message.type, message.line) == ("UNKNOWN", "UNKNOWN", b"frobnicate x y")
    assert counts == {"unknown_commands": 1}


def test_a_line_over_max_line_length_is_a_counted_protocol_error() -> None:
    counts = Counts()
    p = parser(True, ValueLimits(max_line_length=100), counts)
    p.receive_data(b"get " + b"k " * 40, 1.0)
    with pytest.raises(ProtocolError):
        p.receive_data(b"k " * 20, 2.0)
    assert counts == {"lines_too_long": 1}


def test_a_10_mb_value_streams_through_a_small_buffer() -> None:
    p = parser(False, ValueLimits(max_values=1, max_bytes_per_value=100))
    data = bytes(range(256)) * 40_000
    wire = w.value("big", data) + w.line("END")
    out: list[McMessage] = []
    for i in range(0, len(wire), 65536):
        out += p.receive_data(wire[i:i + 65536], 1.0)
        assert len(p._buf) < 1024
    (message,) = out
    assert message.values == (data[:100],) and message.value_bytes == len(data) and message.size == len(wire)


def test_a_gap_inside_a_value_is_stepped_over_with_a_note() -> None:
    counts = Counts()
    p = parser(True, counts=counts)
    assert p.receive_data(b"set k 0 0 10\r\nabc", 1.0) == []
    assert p.receive_gap(4, 2.0) == []
    (message,) = p.receive_data(b"hij\r\n", 3.0)
    assert message.value_bytes == 10 and message.notes == ("request packet loss",)
    assert counts == {"gaps_in_values": 1}
    with pytest.raises(ProtocolError):
        p.receive_data(b"get ", 4.0) + p.receive_gap(5, 5.0)


def test_a_10_mb_binary_value_streams_through_a_small_buffer() -> None:
    p = parser(False, ValueLimits(max_values=1, max_bytes_per_value=100))
    data = bytes(range(256)) * 40_000
    wire = w.binary(w.GETK, request=False, key=b"big", extras=b"\0\0\0\0", body=data, opaque=1)
    out: list[McMessage] = []
    for i in range(0, len(wire), 65536):
        out += p.receive_data(wire[i:i + 65536], 1.0)
        assert len(p._buf) < 1024
    (message,) = out
    assert message.values == (data[:100],) and message.value_bytes == len(data) and message.size == len(wire)
