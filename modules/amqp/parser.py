"""AMQP 0-9-1 frames to messages (amqp0-9-1.pdf sections 2.3.5 and 4.2). Sans-IO.

The client's stream begins with the protocol header `AMQP\\x00\\x00\\x09\\x01`. Frames are
type, channel, size, payload and the frame-end octet 0xCE. A content-bearing method (basic.publish,
basic.deliver, basic.get-ok, basic.return) is followed by a content header and body frames on its
channel; the message is complete when the body has all the bytes its header announced.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import StreamParser

from .messages import AmqpMessage
from .methods import CONTENT_METHODS, METHODS
from .wire import AmqpProtocolError, Cursor, timestamp_text

__all__ = ["PROTOCOL_HEADER", "AmqpStreamParser", "read_arguments", "read_properties"]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
_FRAME = struct.Struct(">BHI")
_METHOD, _HEADER, _BODY, _HEARTBEAT = 1, 2, 3, 8
_FRAME_END = 0xCE
_MAX_LONG = (1 << 63) - 1

# Content header properties in flag order, bit 15 first (section 4.2.6.1; basic class, 1.8.1).
_PROPERTIES = (("content-type", "s"), ("content-encoding", "s"), ("headers", "T"), ("delivery-mode", "B"),
               ("priority", "B"), ("correlation-id", "s"), ("reply-to", "s"), ("expiration", "s"),
               ("message-id", "s"), ("timestamp", "Q"), ("type", "s"), ("user-id", "s"), ("app-id", "s"),
               ("-", "s"))
_DELIVERY_MODES = {1: "non-persistent", 2: "persistent"}


def _scalar(c: Cursor, kind: str) -> Any:
    if kind == "B":
        return c.octet()
    if kind == "H":
        return c.short()
    if kind == "L":
        return c.long()
    if kind == "Q":
        value = c.longlong()
        if value > _MAX_LONG:  # delivery tags count from 1; a value past int64 is no real peer's (and ES's long)
            raise AmqpProtocolError(f"64-bit value {value} out of range")
        return value
    if kind == "s":
        return c.shortstr()
    if kind == "S":
        return c.longstr().decode("utf-8", "replace")
    if kind == "T":
        return c.table()
    raise AmqpProtocolError(f"unknown argument kind {kind}")


def read_arguments(c: Cursor, spec: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bits = bit = 0
    for name, kind in spec:
        if kind == "b":
            if bit == 0:
                bits = c.octet()
            value: Any = bool(bits >> bit & 1)
            bit = (bit + 1) % 8
        else:
            bit = 0
            value = _scalar(c, kind)
        if name != "-":
            out[name] = value
    return out


def read_properties(c: Cursor) -> tuple[int, dict[str, Any]]:
    """A content header's payload after class-id: (body size, properties)."""
    c.short()  # weight: unused, must be 0
    body_size = c.longlong()
    flags = c.short()
    if flags & 1:
        raise AmqpProtocolError("more than one property flags word: not in 0-9-1's basic class")
    out: dict[str, Any] = {}
    for index, (name, kind) in enumerate(_PROPERTIES):
        if not flags & (1 << (15 - index)):
            continue
        value = _scalar(c, kind)
        if name == "timestamp":
            value = timestamp_text(value)
        elif name == "delivery-mode":
            value = _DELIVERY_MODES.get(value, str(value))  # one type in the index, whatever the peer sent
        if name != "-":
            out[name] = value
    return body_size, out


class AmqpStreamParser(StreamParser):
    """One direction of an AMQP connection."""

    def __init__(self, max_frame_size: int, max_body_length: int, count: Callable[[str], None]) -> None:
        self._max_frame = max_frame_size
        self._max_body = max_body_length
        self._count = count
        self._buf = bytearray()
        self._started = False
        self._pending: dict[str, Any] | None = None  # a content method waiting for its header and body

    def receive_data(self, data: bytes, ts: float) -> list[AmqpMessage]:
        self._buf += data
        out: list[AmqpMessage] = []
        if not self._started:
            if len(self._buf) < 8 and PROTOCOL_HEADER.startswith(bytes(self._buf)):
                return out
            if self._buf.startswith(b"AMQP"):
                if len(self._buf) < 8:
                    return out
                if bytes(self._buf[:8]) != PROTOCOL_HEADER:
                    self._count("other_protocol_versions")
                    raise AmqpProtocolError(f"AMQP protocol header {bytes(self._buf[:8])!r}: not 0-9-1")
                del self._buf[:8]
            self._started = True
        while len(self._buf) >= 7:
            kind, channel, size = _FRAME.unpack_from(self._buf)
            if size > self._max_frame:
                self._count("frames_too_large")
                raise AmqpProtocolError(f"AMQP frame of {size} bytes over max_frame_size ({self._max_frame})")
            total = 7 + size + 1
            if len(self._buf) < total:
                break
            if self._buf[total - 1] != _FRAME_END:
                raise AmqpProtocolError("AMQP frame without its frame-end octet")
            payload = bytes(self._buf[7:7 + size])
            del self._buf[:total]
            message = self._frame(kind, channel, payload, total, ts)
            if message is not None:
                out.append(message)
        return out

    def _frame(self, kind: int, channel: int, payload: bytes, total: int, ts: float) -> AmqpMessage | None:
        pending = self._pending
        if kind == _HEARTBEAT:
            return None
        if kind == _METHOD:
            if pending is not None:
                self._count("contents_interrupted")
                raise AmqpProtocolError(f"{pending['method']} content interrupted by a method frame")
            c = Cursor(payload)
            class_id, method_id = c.short(), c.short()
            known = METHODS.get((class_id, method_id))
            if known is None:
                self._count("unknown_methods")
                raise AmqpProtocolError(f"unknown AMQP method {class_id}.{method_id}")
            name, spec = known
            fields: dict[str, Any] = {"method": name, "class_id": class_id, "method_id": method_id, "channel": channel,
                      "arguments": read_arguments(c, spec), "ts": ts, "wire_bytes": total}
            if name in CONTENT_METHODS:
                self._pending = fields
                return None
            return AmqpMessage(**fields)
        if pending is None or channel != pending["channel"]:
            raise AmqpProtocolError(f"content frame (type {kind}) without a content method")
        if kind == _HEADER:
            if "body_size" in pending:
                raise AmqpProtocolError("a second content header for one method")
            c = Cursor(payload)
            c.short()  # class-id
            pending["body_size"], pending["properties"] = read_properties(c)
            pending["body"], pending["received"] = b"", 0
        elif kind == _BODY:
            if "body_size" not in pending:
                raise AmqpProtocolError("content body before its header")
            room = self._max_body - len(pending["body"])
            if room > 0:
                pending["body"] += payload[:room]
            pending["received"] += len(payload)
            if pending["received"] > pending["body_size"]:
                raise AmqpProtocolError("content body longer than its header said")
        else:
            raise AmqpProtocolError(f"unknown AMQP frame type {kind}")
        pending["wire_bytes"] += total
        if pending["received"] < pending["body_size"]:
            return None
        self._pending = None
        if pending["body_size"] > self._max_body:
            self._count("bodies_truncated")
        del pending["received"]
        return AmqpMessage(**pending)
