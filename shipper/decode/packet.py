"""The decoded view of one packet that the TCP, UDP and ICMP dispatchers receive.

The per-packet fast path (decode + flow accounting) works on raw bytes and offsets and never builds
one of these; a `Packet` is made only for packets that a protocol module wants.
"""

from __future__ import annotations

__all__ = ["Packet", "TCP_FIN", "TCP_SYN", "TCP_RST", "TCP_PSH", "TCP_ACK", "TCP_URG"]

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20


class Packet:
    """One decoded IP packet (fragments already reassembled).

    Addresses are raw network-order bytes (4 for IPv4, 16 for IPv6); `payload` is the transport payload
    (for ICMP: the whole ICMP message, header included). `ts` is the capture timestamp in seconds.
    """

    __slots__ = (
        "ts",
        "length",
        "ip_version",
        "src",
        "dst",
        "proto",
        "sport",
        "dport",
        "tcp_flags",
        "seq",
        "ack",
        "window",
        "payload",
        "vlans",
        "src_mac",
        "dst_mac",
        "truncated",
    )

    def __init__(
        self,
        ts: float,
        length: int,
        ip_version: int,
        src: bytes,
        dst: bytes,
        proto: int,
        sport: int = 0,
        dport: int = 0,
        payload: bytes = b"",
        tcp_flags: int = 0,
        seq: int = 0,
        ack: int = 0,
        window: int = 0,
        vlans: tuple[int, ...] = (),
        src_mac: bytes | None = None,
        dst_mac: bytes | None = None,
        truncated: bool = False,
    ) -> None:
        self.ts = ts
        self.length = length  # frame length on the wire
        self.ip_version = ip_version
        self.src = src
        self.dst = dst
        self.proto = proto  # IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...
        self.sport = sport
        self.dport = dport
        self.payload = payload
        self.tcp_flags = tcp_flags
        self.seq = seq
        self.ack = ack
        self.window = window
        self.vlans = vlans
        self.src_mac = src_mac
        self.dst_mac = dst_mac
        self.truncated = truncated  # the capture cut the payload short (snaplen)

    def __repr__(self) -> str:
        return (
            f"Packet(ts={self.ts}, proto={self.proto}, {self.src.hex()}:{self.sport} -> "
            f"{self.dst.hex()}:{self.dport}, flags={self.tcp_flags:#x}, seq={self.seq}, len={len(self.payload)})"
        )
