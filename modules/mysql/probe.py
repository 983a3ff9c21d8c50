"""Detection by content: a MySQL/MariaDB server's initial handshake packet (protocol version 10)."""

from __future__ import annotations

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]


def probe(data: bytes, direction: Direction) -> Verdict:
    """3-byte length, sequence 0, protocol 10, then a printable NUL-terminated server version."""
    if direction == Direction.REQUEST:
        return Verdict.NO  # the server speaks first
    n = len(data)
    if n >= 3 and not 30 <= (data[0] | data[1] << 8 | data[2] << 16) <= 1024:
        return Verdict.NO
    if n >= 4 and data[3] != 0:
        return Verdict.NO
    if n >= 5 and data[4] != 10:
        return Verdict.NO
    end = data.find(b"\x00", 5)
    version = data[5:] if end < 0 else data[5:end]
    if not all(0x20 <= b < 0x7F for b in version) or len(version) > 64:
        return Verdict.NO
    if end < 0:
        return Verdict.NEED_MORE
    return Verdict.YES if version[:1].isdigit() else Verdict.NO
