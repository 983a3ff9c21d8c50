"""Detection by content: a MongoDB wire message header (length, request id, response to, a known opCode).

Every message starts with the header, so a connection is recognised even when picked up mid-stream.
"""

from __future__ import annotations

import struct

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_HEADER = struct.Struct("<iiiI")  # messageLength, requestID, responseTo, opCode
_REQUESTS = frozenset({2001, 2002, 2004, 2005, 2006, 2007, 2010, 2012, 2013})
_REPLIES = frozenset({1, 2011, 2012, 2013})
_MAX_MESSAGE = 48_000_000  # maxMessageSizeBytes


def probe(data: bytes, direction: Direction) -> Verdict:
    if len(data) < 16:
        if len(data) >= 4 and not 16 <= int.from_bytes(data[:4], "little", signed=True) <= _MAX_MESSAGE:
            return Verdict.NO
        return Verdict.NEED_MORE
    length, _, response_to, opcode = _HEADER.unpack_from(data)
    if not 16 <= length <= _MAX_MESSAGE:
        return Verdict.NO
    if direction == Direction.REQUEST:
        return Verdict.YES if opcode in _REQUESTS and (response_to == 0 or opcode == 2013) else Verdict.NO
    return Verdict.YES if opcode in _REPLIES else Verdict.NO
