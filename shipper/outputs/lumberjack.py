"""Lumberjack v2 wire codec (the Beats protocol Logstash's beats input speaks), client side, sans-IO.

Frames are a version byte `2`, a type byte and a body, big endian:
`W` window: u32 number of events that follow; `J` JSON event: u32 sequence, u32 length, payload;
`C` compressed: u32 length, zlib stream holding further frames; `A` ACK (server to client): u32 sequence
of the last event processed. Sequence numbers restart at 1 in every window.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

__all__ = ["ProtocolError", "encode_window", "encode_events", "AckParser", "ACK_SIZE"]

VERSION = 0x32  # ASCII "2"
_WINDOW = struct.Struct(">BBI")
_JSON_HEADER = struct.Struct(">BBII")
_COMPRESSED_HEADER = struct.Struct(">BBI")
_ACK = struct.Struct(">BBI")
ACK_SIZE = _ACK.size
_TYPE_WINDOW, _TYPE_JSON, _TYPE_COMPRESSED, _TYPE_ACK = b"WJCA"


class ProtocolError(Exception):
    """The server sent something that is not a Lumberjack v2 ACK frame."""


def encode_window(count: int) -> bytes:
    return _WINDOW.pack(VERSION, _TYPE_WINDOW, count)


def encode_events(payloads: Iterable[bytes], compression_level: int) -> bytes:
    """JSON frames numbered from 1, wrapped in one compressed frame when `compression_level` > 0."""
    pack = _JSON_HEADER.pack
    frames = b"".join(
        pack(VERSION, _TYPE_JSON, seq, len(payload)) + payload for seq, payload in enumerate(payloads, 1)
    )
    if compression_level <= 0:
        return frames
    body = zlib.compress(frames, compression_level)
    return _COMPRESSED_HEADER.pack(VERSION, _TYPE_COMPRESSED, len(body)) + body


class AckParser:
    """Feed the bytes the server sent; get the ACK sequence numbers, in order."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[int]:
        buf = self._pending + data
        acks = []
        end = len(buf) - len(buf) % ACK_SIZE
        for offset in range(0, end, ACK_SIZE):
            version, kind, seq = _ACK.unpack_from(buf, offset)
            if version != VERSION:
                raise ProtocolError(f"unsupported protocol version byte 0x{version:02x} from server")
            if kind != _TYPE_ACK:
                raise ProtocolError(f"unexpected frame type 0x{kind:02x} from server (only ACK is valid)")
            acks.append(seq)
        self._pending = buf[end:]
        return acks
