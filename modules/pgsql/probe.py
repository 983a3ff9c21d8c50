"""Detection by content: a PostgreSQL client's StartupMessage, SSLRequest, GSSENCRequest or CancelRequest."""

from __future__ import annotations

import struct

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_HEADER = struct.Struct("!iI")  # length (itself included), protocol version or request code
_PROTOCOL_3 = 196608
_SSL_REQUEST, _GSSENC_REQUEST, _CANCEL_REQUEST = 80877103, 80877104, 80877102
_MAX_STARTUP = 10000  # the server refuses longer startup packets (MAX_STARTUP_PACKET_LENGTH)


def probe(data: bytes, direction: Direction) -> Verdict:
    if direction == Direction.RESPONSE:
        return Verdict.NO  # the client speaks first
    if len(data) < 8:
        return Verdict.NEED_MORE if data[:2] == b"\x00\x00"[: len(data[:2])] else Verdict.NO
    length, code = _HEADER.unpack_from(data)
    if code == _PROTOCOL_3:
        return Verdict.YES if 9 <= length <= _MAX_STARTUP else Verdict.NO
    if code in (_SSL_REQUEST, _GSSENC_REQUEST):
        return Verdict.YES if length == 8 else Verdict.NO
    if code == _CANCEL_REQUEST:
        return Verdict.YES if length == 16 else Verdict.NO
    return Verdict.NO
