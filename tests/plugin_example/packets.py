"""Builds `Packet` objects that speak in meaning: a TCP segment with these flags, this seq, this payload.

Not part of the installed example package; the TCP, dispatch and registry tests import it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from packetshipper.decode.packet import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, Packet

CLIENT_IP = socket.inet_pton(socket.AF_INET, "10.0.0.1")
SERVER_IP = socket.inet_pton(socket.AF_INET, "10.0.0.2")
CLIENT_MAC = bytes.fromhex("0a0027000001")
SERVER_MAC = bytes.fromhex("0a00270000ff")


@dataclass
class TcpConversation:
    """One TCP connection between a client and a server; each call returns the next packet."""

    client_port: int = 40000
    server_port: int = 7777
    client_isn: int = 1000
    server_isn: int = 5000
    now: float = 1_000_000.0
    step: float = 0.001
    client_ip: bytes = CLIENT_IP
    server_ip: bytes = SERVER_IP
    next_seq: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next_seq = [(self.client_isn + 1) & 0xFFFFFFFF, (self.server_isn + 1) & 0xFFFFFFFF]

    def packet(self, from_client: bool, flags: int, seq: int, payload: bytes = b"") -> Packet:
        self.now += self.step
        if from_client:
            src, dst, sport, dport = self.client_ip, self.server_ip, self.client_port, self.server_port
            smac, dmac = CLIENT_MAC, SERVER_MAC
        else:
            src, dst, sport, dport = self.server_ip, self.client_ip, self.server_port, self.client_port
            smac, dmac = SERVER_MAC, CLIENT_MAC
        version = 4 if len(src) == 4 else 6
        proto_header = 20 + (20 if version == 4 else 40) + 14
        return Packet(self.now, proto_header + len(payload), version, src, dst, 6, sport, dport, payload,
                      flags, seq & 0xFFFFFFFF, 0, 65535, src_mac=smac, dst_mac=dmac)

    def handshake(self) -> list[Packet]:
        return [
            self.packet(True, TCP_SYN, self.client_isn),
            self.packet(False, TCP_SYN | TCP_ACK, self.server_isn),
            self.packet(True, TCP_ACK, self.next_seq[0]),
        ]

    def send(self, from_client: bool, data: bytes) -> Packet:
        """The next in-order segment of `data` from one side."""
        side = 0 if from_client else 1
        seq = self.next_seq[side]
        self.next_seq[side] = (seq + len(data)) & 0xFFFFFFFF
        return self.packet(from_client, TCP_PSH | TCP_ACK, seq, data)

    def segments(self, from_client: bool, data: bytes, size: int) -> list[Packet]:
        """`data` cut into in-order segments of `size` bytes."""
        return [self.send(from_client, data[i : i + size]) for i in range(0, len(data), size)]

    def fin(self, from_client: bool) -> Packet:
        side = 0 if from_client else 1
        seq = self.next_seq[side]
        self.next_seq[side] = (seq + 1) & 0xFFFFFFFF
        return self.packet(from_client, TCP_FIN | TCP_ACK, seq)

    def rst(self, from_client: bool) -> Packet:
        return self.packet(from_client, TCP_RST, self.next_seq[0 if from_client else 1])


def restamp(packets: list[Packet], start: float, step: float = 0.001) -> list[Packet]:
    """The same packets, in the given order, with increasing timestamps (as a capture would see them)."""
    for i, pkt in enumerate(packets):
        pkt.ts = start + i * step
    return packets
