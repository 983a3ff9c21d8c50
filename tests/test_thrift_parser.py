"""The thrift stream parser on messages written by Apache Thrift's own Python library (thrift 0.22:
TBinaryProtocol and TCompactProtocol, generated once and kept here as bytes), fed whole, one byte at a
time and followed by the start of another message, unframed and framed. The expected text applies
Packetbeat's rendering rules by hand; i32/i16 are shown signed (Packetbeat prints them unsigned,
4294967289 for -7: a deliberate difference, the protocol's integers are signed)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from packetshipper.modules.thrift.messages import CALL, ONEWAY, REPLY, ThriftMessage
from packetshipper.modules.thrift.parser import ThriftStreamParser
from packetshipper.modules.thrift.render import go_quote
from packetshipper.modules.thrift.settings import SETTINGS, ThriftConfig
from packetshipper.protocol import ProtocolError

WIRE = {
    "compact": {
        "call": "82212a04646f4974150d1108280668c3a96c6c6f19360203061b02810178020179011c17000000000000044024d70400"
                "1a2305061921010200",
        "reply": "82412a04646f49740800026f6b00",
        "exception": "82412b04646f49741c28026e6f0000",
        "oneway": "82812c046669726500",
    },
    "binary": {
        "call": "8001000100000004646f49740000002a080001fffffff9020002010b00140000000668c3a96c6c6f0f00150a00000003"
                "0000000000000001fffffffffffffffe00000000000000030d00160b02000000020000000178000000000179010c0017"
                "0400014004000000000000060003fed4000e0018030000000205060f00190200000002010000",
        "reply": "8001000200000004646f49740000002a0b0000000000026f6b00",
        "exception": "8001000200000004646f49740000002b0c00010b0002000000026e6f0000",
        "oneway": "8001000400000004666972650000002c00",
    },
}
CALL_TEXT = ('(1: -7, 2: true, 20: "héllo", 21: [1, -2, 3], 22: {"x": false, "y": true}, '
             '23: (1: 2.5, 3: -300), 24: {5, 6}, 25: [true, false])')


def config(**overrides: Any) -> ThriftConfig:
    raw: dict[str, Any] = {key: spec.default for key, spec in SETTINGS.items()}  # type: ignore[union-attr]
    raw.update(overrides)
    return ThriftConfig.from_mapping(raw)


def parser(**overrides: Any) -> ThriftStreamParser:
    return ThriftStreamParser(config(**overrides), lambda name, n=1: None)


def framed(hex_text: str) -> bytes:
    raw = bytes.fromhex(hex_text)
    return struct.pack(">i", len(raw)) + raw


Feed = Callable[[ThriftStreamParser, bytes], list[ThriftMessage]]


def whole(p: ThriftStreamParser, data: bytes) -> list[ThriftMessage]:
    return p.receive_data(data, 1.0)


def bytewise(p: ThriftStreamParser, data: bytes) -> list[ThriftMessage]:
    out: list[ThriftMessage] = []
    for i in range(len(data)):
        out += p.receive_data(data[i:i + 1], 1.0)
    return out


def trailing(p: ThriftStreamParser, data: bytes) -> list[ThriftMessage]:
    return p.receive_data(data + data[:5], 1.0)


FEEDS = pytest.mark.parametrize("feed", [whole, bytewise, trailing], ids=["whole", "bytewise", "trailing"])
PROTOCOLS = pytest.mark.parametrize("protocol", ["binary", "compact"])
TRANSPORTS = pytest.mark.parametrize("transport", ["socket", "framed"])


def wire(protocol: str, which: str, transport: str) -> bytes:
    text = WIRE[protocol][which]
    return framed(text) if transport == "framed" else bytes.fromhex(text)


@FEEDS
@PROTOCOLS
@TRANSPORTS
def test_call_with_every_type(feed: Feed, protocol: str, transport: str) -> None:
    data = wire(protocol, "call", transport)
    (m,) = feed(parser(transport_type=transport), data)
    assert (m.method, m.kind, m.seqid, m.protocol, m.size) == ("doIt", CALL, 42, protocol, len(data))
    assert "(" + ", ".join(f"{fid}: {value}" for fid, value in m.fields) + ")" == CALL_TEXT


@FEEDS
@PROTOCOLS
@TRANSPORTS
def test_replies_and_oneway(feed: Feed, protocol: str, transport: str) -> None:
    data = b"".join(wire(protocol, which, transport) for which in ("reply", "exception", "oneway"))
    messages = feed(parser(transport_type=transport), data)
    assert [(m.method, m.kind, m.seqid, m.fields) for m in messages] == [
        ("doIt", REPLY, 42, ((0, '"ok"'),)), ("doIt", REPLY, 43, ((1, '(2: "no")'),)), ("fire", ONEWAY, 44, ())]


def test_old_style_binary_message() -> None:
    # TBinaryProtocol with strict_write off: the name's length, the name, the type byte, the seqid
    data = struct.pack(">i", 4) + b"ping" + b"\x01" + struct.pack(">i", 7) + b"\x00"
    (m,) = parser().receive_data(data, 1.0)
    assert (m.method, m.kind, m.seqid, m.fields) == ("ping", CALL, 7, ())


def test_limits_as_packetbeat_applies_them() -> None:
    strings = b"\x0f\x00\x01\x0b" + struct.pack(">i", 20) + b"".join(
        struct.pack(">i", 300) + b"a" * 300 for _ in range(20))
    data = bytes.fromhex("800100010000000178" + "00000001") + strings + b"\x00"
    (m,) = parser(string_max_size=4, collection_max_size=2).receive_data(data, 1.0)
    assert m.fields == ((1, '["aaaa...", "aaaa...", ...]'),)


def test_drop_after_n_struct_fields() -> None:
    fields = b"".join(b"\x03" + struct.pack(">h", i) + b"\x01" for i in range(6))
    data = bytes.fromhex("800100010000000178" + "00000001") + fields + b"\x00"
    assert len(parser(drop_after_n_struct_fields=6).receive_data(data, 1.0)) == 1
    with pytest.raises(ProtocolError):
        parser(drop_after_n_struct_fields=5).receive_data(data, 1.0)


def test_obfuscate_strings_and_capture_reply() -> None:
    (m,) = parser(obfuscate_strings=True).receive_data(bytes.fromhex(WIRE["binary"]["reply"]), 1.0)
    assert m.fields == ((0, '"*"'),)
    (m,) = parser(capture_reply=False).receive_data(bytes.fromhex(WIRE["binary"]["reply"]), 1.0)
    assert (m.method, m.fields) == ("doIt", ())


def test_binary_values_are_hex_and_strings_go_quoted() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


@pytest.mark.parametrize("data", [
    bytes.fromhex("80020001000000017800000001"),  # binary protocol version 2
    bytes.fromhex("800100090000000178000000010000"),  # message type 9
    bytes.fromhex("8001000100000001780000000111000100"),  # field type 17
    bytes.fromhex("8001000100000001780000000108000100000001ff"),  # ... after a good field
    bytes.fromhex("8001000100000001780000000f000108ffffffff"),  # list of -1 elements
    bytes.fromhex("8222"),  # compact version 2
    struct.pack(">i", -5) + b"x",  # a name of negative length
])
def test_garbage_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parser().receive_data(data, 1.0)


def test_an_unframed_message_over_max_message_size_resyncs() -> None:
    p = parser(max_message_size=64)
    start = bytes.fromhex("800100010000000178" + "00000001") + b"\x0b\x00\x01" + struct.pack(">i", 1000)
    with pytest.raises(ProtocolError):
        p.receive_data(start + b"a" * 100, 1.0)


def test_a_frame_over_max_message_size_raises() -> None:
    with pytest.raises(ProtocolError):
        parser(transport_type="framed", max_message_size=64).receive_data(struct.pack(">i", 65) + b"x", 1.0)
