"""A decoded DHCPv4 message (RFC 2131 section 2): the fixed header and the options, as sent."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["DhcpMessage"]


@record
class DhcpMessage:
    ts: float
    size: int  # UDP payload bytes
    from_client: bool  # sent by the connection's client (the side the core calls client)
    op: int
    htype: int
    hlen: int
    hops: int
    xid: int
    secs: int
    flags: int
    ciaddr: str
    yiaddr: str
    siaddr: str
    giaddr: str
    chaddr: bytes
    sname: bytes  # as sent, up to its first NUL; empty when option overload puts options there
    file: bytes
    options: tuple[tuple[int, bytes], ...]  # code, value; repeated codes concatenated (RFC 3396)
    notes: tuple[str, ...] = ()
