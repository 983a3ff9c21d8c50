"""Detection by content: does a connection start with a TLS handshake record (a ClientHello or ServerHello)?"""

from __future__ import annotations

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_HANDSHAKE = 22
_MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext.length limit (RFC 8446 5.2)


def probe(data: bytes, direction: Direction) -> Verdict:
    """Record type 22, version 3.0 to 3.4, a length within the limit, then a ClientHello (1) from the client
    or a ServerHello (2) from the server."""
    hello = 1 if direction == Direction.REQUEST else 2
    n = len(data)
    if n >= 1 and data[0] != _HANDSHAKE:
        return Verdict.NO
    if n >= 2 and data[1] != 3:
        return Verdict.NO
    if n >= 3 and data[2] > 4:
        return Verdict.NO
    if n >= 5 and not 4 <= (data[3] << 8 | data[4]) <= _MAX_RECORD:
        return Verdict.NO
    if n < 6:
        return Verdict.NEED_MORE
    return Verdict.YES if data[5] == hello else Verdict.NO
