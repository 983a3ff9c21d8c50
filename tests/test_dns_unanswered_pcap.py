"""A query that never gets a response still becomes an event: status Error, after the timeout."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dns_wire as w
from packetshipper.modules.dns.correlator import NO_RESPONSE
from packetshipper.testing import events_from_pcap

CLIENT, SERVER = "192.0.2.10", "192.0.2.53"


def ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(payload: bytes, sport: int, dport: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none (RFC 768)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
        socket.inet_aton(CLIENT), socket.inet_aton(SERVER),
    )  # fmt: skip
    header = header[:10] + struct.pack("!H", ipv4_checksum(header)) + header[12:]
    ethernet = bytes.fromhex("020000000002" "020000000001" "0800")
    return ethernet + header + udp


def write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet link type
    for ts, frame in frames:
        out += struct.pack("<IIII", int(ts), int(round(ts % 1 * 1e6)), len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def test_unanswered_query_is_an_error_event(tmp_path: Path) -> None:
    query = w.query("example.com", w.AAAA, ident=0x0BAD)
    pcap = tmp_path / "unanswered.pcap"
    # a second, unrelated packet 30 s later moves the capture clock past the 10 s timeout
    write_pcap(pcap, [(1000.0, udp_frame(query, 40000, 53)), (1030.0, udp_frame(b"x", 40001, 9))])
    config = {"packetshipper": {"protocols": [{"type": "dns"}], "flows": {"enabled": False}}}
    events = events_from_pcap(str(pcap), config)
    assert len(events) == 1
    e = events[0]
    assert e["status"] == "Error"
    assert e["error"]["message"] == NO_RESPONSE
    assert e["query"] == "class IN, type AAAA, example.com"
    assert e["dns"]["type"] == "query" and e["dns"]["id"] == 0x0BAD
    assert (e["source"]["bytes"], e["destination"]["bytes"]) == (len(query), 0)
    assert (e["client"]["ip"], e["server"]["ip"], e["server"]["port"]) == (CLIENT, SERVER, 53)
