"""Detection by content: a SIP start line, `SIP/2.0 NNN ...` or `METHOD uri SIP/2.0` (RFC 3261 7.1, 7.2)."""

from __future__ import annotations

from packetshipper.protocol import Verdict

from .parser import looks_like_sip

__all__ = ["probe"]

_MAX_LINE = 1024  # longer than any start line a real agent sends


def probe(data: bytes, transport: str) -> Verdict:
    head = data.lstrip(b"\r\n")
    if b"\r\n" in head[:_MAX_LINE]:
        return Verdict.YES if looks_like_sip(head) else Verdict.NO
    if transport == "udp" or len(head) > _MAX_LINE:
        return Verdict.NO  # a datagram is a whole message: its start line had to be there
    # A stream may still bring the line's end; wait only while the bytes could begin one.
    first = head.split(b" ", 1)[0]
    if head.startswith(b"SIP/"[: len(head)]) or (first.isalpha() and first.isupper()):
        return Verdict.NEED_MORE
    return Verdict.NO
