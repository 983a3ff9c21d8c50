"""The AMQP 0-9-1 reader: frames, method arguments (bits packed per section 4.2.5.2), field tables
(section 4.2.5.5 and the 0-9-1 errata types), content headers and bodies, fed whole, a byte at a time
and with trailing bytes. Wire bytes are built from the specification by the helpers below."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from packetshipper.modules.amqp.messages import AmqpMessage
from packetshipper.modules.amqp.parser import PROTOCOL_HEADER, AmqpStreamParser
from packetshipper.protocol import ProtocolError


def shortstr(text: str) -> bytes:
    raw = text.encode()
    return bytes([len(raw)]) + raw


def longstr(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def table(items: dict[str, bytes]) -> bytes:
    """`items` maps a name to an already typed value (type letter + data)."""
    return longstr(b"".join(shortstr(k) + v for k, v in items.items()))


def frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def method(class_id: int, method_id: int, args: bytes, channel: int = 1) -> bytes:
    return frame(1, channel, struct.pack(">HH", class_id, method_id) + args)


def bits(*flags: bool) -> bytes:
    return bytes([sum(1 << i for i, f in enumerate(flags) if f)])


def queue_declare(name: str, *, passive: bool = False, durable: bool = False, exclusive: bool = False,
                  auto_delete: bool = False, no_wait: bool = False, channel: int = 1) -> bytes:
    return method(50, 10, b"\0\0" + shortstr(name) + bits(passive, durable, exclusive, auto_delete, no_wait)
                  + table({}), channel)


def declare_ok(name: str, messages: int = 0, consumers: int = 0, channel: int = 1) -> bytes:
    return method(50, 11, shortstr(name) + struct.pack(">II", messages, consumers), channel)


def content(class_method: tuple[int, int], args: bytes, body: bytes, props: dict[str, Any] | None = None,
            channel: int = 1, max_frame: int = 131072) -> bytes:
    """A content method, its header (content-type, delivery-mode, headers, user-id when given) and body frames."""
    props = props or {}
    flags, data = 0, b""
    if "content-type" in props:
        flags |= 1 << 15
        data += shortstr(props["content-type"])
    if "headers" in props:
        flags |= 1 << 13
        data += table(props["headers"])
    if "delivery-mode" in props:
        flags |= 1 << 12
        data += bytes([props["delivery-mode"]])
    if "timestamp" in props:
        flags |= 1 << 6
        data += struct.pack(">Q", props["timestamp"])
    if "user-id" in props:
        flags |= 1 << 4
        data += shortstr(props["user-id"])
    header = frame(2, channel, struct.pack(">HHQH", 60, 0, len(body), flags) + data)
    bodies = b"".join(frame(3, channel, body[i:i + max_frame]) for i in range(0, len(body), max_frame))
    return method(*class_method, args, channel) + header + bodies


def publish(exchange: str, key: str, body: bytes, props: dict[str, Any] | None = None, **kw: Any) -> bytes:
    return content((60, 40), b"\0\0" + shortstr(exchange) + shortstr(key) + bits(False, False), body, props, **kw)


def deliver(tag: int, exchange: str, key: str, body: bytes, props: dict[str, Any] | None = None) -> bytes:
    return content((60, 60), shortstr("ctag") + struct.pack(">Q", tag) + bits(False) + shortstr(exchange)
                   + shortstr(key), body, props)


def channel_close(code: int, text: str, class_id: int, method_id: int, channel: int = 1) -> bytes:
    return method(20, 40, struct.pack(">H", code) + shortstr(text) + struct.pack(">HH", class_id, method_id), channel)


def parse(chunks: list[bytes], max_body: int = 1000, max_frame: int = 1 << 20) -> tuple[list[AmqpMessage], dict[str, int]]:
    counts: dict[str, int] = {}
    parser = AmqpStreamParser(max_frame, max_body, lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
    out: list[AmqpMessage] = []
    for chunk in chunks:
        out += parser.receive_data(chunk, 1.0)
    return out, counts


CLIENT = (PROTOCOL_HEADER + queue_declare("hello") + frame(8, 0, b"")
          + publish("", "hello", b"hi there", {"content-type": "text/plain", "delivery-mode": 2}))


def test_protocol_header_then_methods_and_content() -> None:
    (declare, pub), _ = parse([CLIENT])
    assert declare.method == "queue.declare" and declare.channel == 1
    assert declare.arguments == {"queue": "hello", "passive": False, "durable": False, "exclusive": False,
                                 "auto-delete": False, "no-wait": False, "arguments": {}}
    assert pub.method == "basic.publish" and pub.body == b"hi there" and pub.body_size == 8
    assert pub.arguments == {"exchange": "", "routing-key": "hello", "mandatory": False, "immediate": False}
    assert pub.properties == {"content-type": "text/plain", "delivery-mode": "persistent"}
    assert declare.wire_bytes == len(queue_declare("hello"))


def test_byte_by_byte_and_trailing_bytes_give_the_same_messages() -> None:
    whole, _ = parse([CLIENT])
    single, _ = parse([CLIENT[i:i + 1] for i in range(len(CLIENT))])
    trailing, _ = parse([CLIENT + queue_declare("next")[:9]])
    assert single == whole == trailing


def test_bits_pack_into_one_octet() -> None:
    (msg,), _ = parse([queue_declare("q", durable=True, auto_delete=True, no_wait=True)])
    assert (msg.arguments["passive"], msg.arguments["durable"], msg.arguments["exclusive"],
            msg.arguments["auto-delete"], msg.arguments["no-wait"]) == (False, True, False, True, True)


def test_field_table_types() -> None:
    values = {"t": b"t\x01", "b": b"b\xff", "s": b"s\xff\xfe", "I": b"I\xff\xff\xff\xfe", "l": b"l" + struct.pack(">q", -3),
              "f": b"f" + struct.pack(">f", 1.5), "d": b"d" + struct.pack(">d", 2.25), "D": b"D\x02" + struct.pack(">i", 314),
              "S": b"S" + longstr(b"text"), "A": b"A" + longstr(b"I\x00\x00\x00\x01S" + longstr(b"x")),
              "T": b"T" + struct.pack(">Q", 0), "F": b"F" + table({"in": b"t\x00"}), "V": b"V"}
    (msg,), _ = parse([deliver(1, "x", "k", b"", {"headers": values})])
    assert msg.properties["headers"] == {"t": True, "b": -1, "s": -2, "I": -2, "l": -3, "f": 1.5, "d": 2.25,
                                         "D": 3.14, "S": "text", "A": [1, "x"], "T": "1970-01-01T00:00:00",
                                         "F": {"in": False}, "V": None}


def test_body_split_over_frames_and_cut_at_max_body_length() -> None:
    body = bytes(range(256)) * 20
    (msg,), counts = parse([publish("e", "k", body, max_frame=1000)], max_body=100)
    assert msg.body == body[:100] and msg.body_size == len(body)
    assert counts["bodies_truncated"] == 1


def test_timestamp_and_user_id_properties() -> None:
    (msg,), _ = parse([deliver(7, "", "q", b"x", {"timestamp": 1700000000, "user-id": "guest"})])
    assert msg.properties == {"timestamp": "2023-11-14T22:13:20", "user-id": "guest"}
    assert msg.arguments["delivery-tag"] == 7


def test_channel_close_arguments() -> None:
    (msg,), _ = parse([channel_close(404, "NOT_FOUND - no exchange 'plop' in vhost '/'", 40, 10)])
    assert msg.arguments == {"reply-code": 404, "reply-text": "NOT_FOUND - no exchange 'plop' in vhost '/'",
                             "class-id": 40, "method-id": 10}


@pytest.mark.parametrize(("data", "why"), [
    (b"AMQP\x00\x00\x08\x00", "other_protocol_versions"),
    (frame(1, 1, struct.pack(">HH", 99, 1)), "unknown_methods"),
    (frame(1, 1, struct.pack(">HH", 50, 10)[:3]), None),
    (frame(1, 1, struct.pack(">HH", 51, 10))[:-1] + b"\x00", None),
    (frame(3, 1, b"body without method"), None),
    (frame(9, 1, b""), None),
    (queue_declare("a")[:-1] + b"\xcf", None),
    (method(60, 40, b"\0\0" + shortstr("") + shortstr("k") + b"\0") + queue_declare("interrupting"),
     "contents_interrupted"),
])
def test_bad_input_raises_protocol_error(data: bytes, why: str | None) -> None:
    with pytest.raises(ProtocolError):
        _, counts = parse([data])
    if why is not None:
        counts: dict[str, int] = {}
        parser = AmqpStreamParser(1 << 20, 1000, lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
        with pytest.raises(ProtocolError):
            parser.receive_data(data, 1.0)
        assert counts[why] == 1


def test_frame_over_max_frame_size_raises_before_buffering() -> None:
    counts: dict[str, int] = {}
    parser = AmqpStreamParser(4096, 1000, lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
    with pytest.raises(ProtocolError):
        parser.receive_data(struct.pack(">BHI", 3, 1, 1 << 30), 1.0)
    assert counts["frames_too_large"] == 1
