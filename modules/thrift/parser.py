"""The sans-IO stream parser of one direction: unframed (socket) or framed transport, binary or
compact protocol (a compact message announces itself with 0x82, so both are read whatever
`protocol_type` says). Buffers at most `max_message_size` bytes of one message."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import ProtocolError, StreamParser

from .messages import ThriftMessage
from .protocol import COMPACT_ID, Incomplete, Limits, decode_binary, decode_compact
from .settings import ThriftConfig

__all__ = ["ThriftStreamParser"]

_FRAME = struct.Struct(">i")
Count = Callable[..., None]


class ThriftStreamParser(StreamParser):
    def __init__(self, config: ThriftConfig, count: Count) -> None:
        self._config = config
        self._count = count
        self._limits = Limits(config.string_max_size, config.collection_max_size,
                              config.drop_after_n_struct_fields, config.obfuscate_strings)
        self._buf = bytearray()
        self._ts = 0.0

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if not self._buf:
            self._ts = ts
        self._buf += data
        out: list[ThriftMessage] = []
        while self._buf:
            message = self._next()
            if message is None:
                if len(self._buf) > self._config.max_message_size + 4:
                    self._count("oversized_messages")
                    raise ProtocolError(f"message over max_message_size ({self._config.max_message_size})")
                break
            out.append(message)
            self._ts = ts
        return out

    def _next(self) -> ThriftMessage | None:
        framed = self._config.transport_type == "framed"
        start = 0
        if framed:
            if len(self._buf) < 4:
                return None
            length = _FRAME.unpack_from(self._buf)[0]
            if length <= 0 or length > self._config.max_message_size:
                if length > self._config.max_message_size:
                    self._count("oversized_messages")
                raise ProtocolError(f"frame of {length} bytes")
            if len(self._buf) < 4 + length:
                return None
            start = 4
        decode = decode_compact if self._buf[start] == COMPACT_ID else decode_binary
        try:
            decoded = decode(self._buf, start, self._limits, self._config.max_message_size)
        except Incomplete:
            if framed:
                raise ProtocolError("message longer than its frame") from None
            return None
        size = 4 + length if framed else decoded.size
        del self._buf[:size]
        return ThriftMessage(ts=self._ts, size=size, method=decoded.method, kind=decoded.kind,
                             seqid=decoded.seqid,
                             fields=decoded.fields if decoded.kind in (1, 4) or self._config.capture_reply else (),
                             protocol="compact" if decode is decode_compact else "binary")
