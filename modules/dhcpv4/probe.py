"""Detection by content: a BOOTP/DHCPv4 message (RFC 2131: op, Ethernet hardware type, the magic cookie)."""

from __future__ import annotations

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_COOKIE = b"\x63\x82\x53\x63"


def probe(data: bytes, direction: Direction) -> Verdict:
    if len(data) >= 240 and data[0] in (1, 2) and data[1] == 1 and data[2] == 6 and data[236:240] == _COOKIE:
        return Verdict.YES
    return Verdict.NO
