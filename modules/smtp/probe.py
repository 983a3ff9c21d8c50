"""Detection by content: an SMTP server's 220 greeting, or a client's EHLO/HELO."""

from __future__ import annotations

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_MAX_LINE = 1000  # RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; be lenient


def probe(data: bytes, direction: Direction) -> Verdict:
    if direction == Direction.RESPONSE:
        if len(data) < 4:
            return Verdict.NEED_MORE if b"220"[: len(data)] == data[:3] else Verdict.NO
        if data[:3] != b"220" or data[3:4] not in (b" ", b"-"):
            return Verdict.NO
        end = data.find(b"\n")
        if end < 0:
            return Verdict.NEED_MORE if len(data) <= _MAX_LINE else Verdict.NO
        # FTP greets with 220 too: take a greeting naming SMTP, else wait for the client's EHLO/HELO.
        return Verdict.YES if b"SMTP" in data[:end].upper() else Verdict.NEED_MORE
    head = data[:5].upper()
    if len(head) < 5:
        return Verdict.NEED_MORE if b"EHLO "[: len(head)] == head or b"HELO "[: len(head)] == head else Verdict.NO
    return Verdict.YES if head in (b"EHLO ", b"HELO ") else Verdict.NO
