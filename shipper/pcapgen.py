"""Builds frames and writes pcap files: for the benchmark and for tests that need crafted traffic.

Frames are built from meaning (`tcp(src, dst, sport, dport, flags="S", seq=1)`), not hex dumps.
Checksums are computed, so tshark and other dissectors accept the output.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "PcapWriter",
    "ethernet",
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "icmp_echo",
    "tcp_frame",
    "udp_frame",
    "write_pcap",
    "generate_mixed",
    "MixSpec",
    "http_conversation",
    "HTTP_BODY_SIZES",
]

_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


class PcapWriter:
    """Classic little-endian microsecond pcap."""

    def __init__(self, out: BinaryIO, linktype: int = 1, snaplen: int = 65535) -> None:
        self.out = out
        out.write(_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))

    def write(self, ts: float, frame: bytes, wire_len: int | None = None) -> None:
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        self.out.write(_RECORD.pack(sec, usec, len(frame), wire_len if wire_len is not None else len(frame)))
        self.out.write(frame)


def write_pcap(path: str, packets: Iterable[tuple[float, bytes]], linktype: int = 1) -> int:
    count = 0
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, linktype)
        for ts, frame in packets:
            writer.write(ts, frame)
            count += 1
    return count


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _addr(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed


def ethernet(payload: bytes, *, ethertype: int = 0x0800, src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
             dst_mac: bytes = b"\x02\x00\x00\x00\x00\x02", vlans: tuple[int, ...] = ()) -> bytes:
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if i == 0 and len(vlans) > 1 else 0x8100
        tags += struct.pack("!HH", tpid, vid & 0x0FFF)
    return dst_mac + src_mac + tags + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ident: int = 0, ttl: int = 64,
         flags_fragment: int = 0x4000, options: bytes = b"") -> bytes:
    if len(options) % 4 or len(options) > 40:
        raise ValueError(f"IPv4 options must be padded to a multiple of 4 bytes, at most 40; got {len(options)}")
    ihl = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), ident, flags_fragment, ttl,
                         proto, 0, _addr(src), _addr(dst)) + options
    csum = _checksum(header)
    return header[:10] + struct.pack("!H", csum) + header[12:] + payload


def ipv6(src: str, dst: str, next_header: int, payload: bytes, *, hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), next_header, hop_limit, _addr(src), _addr(dst)) + payload


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    a, b = _addr(src), _addr(dst)
    if len(a) == 4:
        return a + b + struct.pack("!BBH", 0, proto, length)
    return a + b + struct.pack("!IxxxB", length, proto)


def tcp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", *, flags: str = "A", seq: int = 0,
        ack: int = 0, window: int = 65535, options: bytes = b"") -> bytes:
    """A TCP segment (header + payload) with a correct checksum for the given addresses."""
    if len(options) % 4 or len(options) > 40:
        raise ValueError(f"TCP options must be padded to a multiple of 4 bytes, at most 40; got {len(options)}")
    bits = 0
    for letter in flags:
        bits |= _TCP_FLAGS[letter]
    offset = (5 + len(options) // 4) << 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset, bits, window, 0, 0)
    segment = header + options + payload
    csum = _checksum(_pseudo(src, dst, 6, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", csum) + segment[18:]


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    csum = _checksum(_pseudo(src, dst, 17, len(datagram)) + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", csum) + datagram[8:]


def icmp_echo(ident: int, seq: int, *, reply: bool = False, v6: bool = False, src: str = "", dst: str = "",
              payload: bytes = b"abcdefgh") -> bytes:
    kind = (129 if reply else 128) if v6 else (0 if reply else 8)
    message = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload
    data = _pseudo(src, dst, 58, len(message)) + message if v6 else message
    csum = _checksum(data)
    return message[:2] + struct.pack("!H", csum) + message[4:]


def _ip(src: str, dst: str, proto: int, payload: bytes) -> tuple[bytes, int]:
    if ":" in src:
        return ipv6(src, dst, proto, payload), 0x86DD
    return ipv4(src, dst, proto, payload), 0x0800


def tcp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", *, flags: str = "A",
              seq: int = 0, ack: int = 0, vlans: tuple[int, ...] = ()) -> bytes:
    packet, ethertype = _ip(src, dst, 6, tcp(src, dst, sport, dport, payload, flags=flags, seq=seq, ack=ack))
    return ethernet(packet, ethertype=ethertype, vlans=vlans)


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", *,
              vlans: tuple[int, ...] = ()) -> bytes:
    packet, ethertype = _ip(src, dst, 17, udp(src, dst, sport, dport, payload))
    return ethernet(packet, ethertype=ethertype, vlans=vlans)


def icmp_frame(src: str, dst: str, ident: int, seq: int, *, reply: bool = False) -> bytes:
    v6 = ":" in src
    message = icmp_echo(ident, seq, reply=reply, v6=v6, src=src, dst=dst)
    packet, ethertype = _ip(src, dst, 58 if v6 else 1, message)
    return ethernet(packet, ethertype=ethertype)


# --- a mixed traffic generator for the benchmark ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class MixSpec:
    flows: int = 55_000
    packets: int = 1_000_000
    duration: float = 20.0
    seed: int = 7
    tcp4: float = 0.70
    tcp6: float = 0.10
    udp4: float = 0.12
    udp6: float = 0.03
    icmp: float = 0.05
    vlan_share: float = 0.05
    start: float = 1_700_000_000.0


def _conversation(kind: str, i: int, n: int, rng: random.Random, vlan_share: float = 0.05) -> list[bytes]:
    """`n` frames of one flow, client first. Addresses and ports derive from `i`, so flows are distinct."""
    v6 = kind.endswith("6")
    if v6:
        client, server = f"2001:db8:1::{i // 65536:x}:{i % 65536:x}", f"2001:db8:2::{i % 97:x}"
    else:
        client, server = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", f"192.0.2.{i % 200 + 1}"
    vlans = (100 + i % 7,) if rng.random() < vlan_share else ()
    sport = 1024 + i % 60000
    frames: list[bytes] = []
    if kind.startswith("tcp"):
        dport = (80, 443, 8080, 3306)[i % 4]
        cseq, sseq = 1000, 5000
        frames.append(tcp_frame(client, server, sport, dport, flags="S", seq=cseq, vlans=vlans))
        frames.append(tcp_frame(server, client, dport, sport, flags="SA", seq=sseq, ack=cseq + 1, vlans=vlans))
        cseq += 1
        sseq += 1
        body = b"x" * rng.choice((40, 120, 600, 1400))
        while len(frames) < n - 2:
            if len(frames) % 2 == 0:
                frames.append(tcp_frame(client, server, sport, dport, body[:200], flags="PA", seq=cseq, ack=sseq,
                                        vlans=vlans))
                cseq += min(len(body), 200)
            else:
                frames.append(tcp_frame(server, client, dport, sport, body, flags="PA", seq=sseq, ack=cseq, vlans=vlans))
                sseq += len(body)
        frames.append(tcp_frame(client, server, sport, dport, flags="FA", seq=cseq, ack=sseq, vlans=vlans))
        frames.append(tcp_frame(server, client, dport, sport, flags="FA", seq=sseq, ack=cseq + 1, vlans=vlans))
    elif kind.startswith("udp"):
        dport = 53 if i % 3 else 123
        for k in range(n):
            if k % 2 == 0:
                frames.append(udp_frame(client, server, sport, dport, b"q" * 40, vlans=vlans))
            else:
                frames.append(udp_frame(server, client, dport, sport, b"r" * 120, vlans=vlans))
    else:
        ident = i & 0xFFFF
        for k in range(n):
            if k % 2 == 0:
                frames.append(icmp_frame(client, server, ident, k // 2))
            else:
                frames.append(icmp_frame(server, client, ident, k // 2, reply=True))
    return frames


def generate_mixed(spec: MixSpec) -> Iterator[tuple[float, bytes]]:
    """Yields (ts, frame) for `spec.packets` packets over `spec.flows` interleaved, concurrent flows."""
    rng = random.Random(spec.seed)
    kinds = ["tcp4", "tcp6", "udp4", "udp6", "icmp4", "icmp6"]
    weights = [spec.tcp4, spec.tcp6, spec.udp4, spec.udp6, spec.icmp * 0.6, spec.icmp * 0.4]
    per_flow = spec.packets // spec.flows
    remainder = spec.packets - per_flow * spec.flows
    # Every flow starts in the first tenth of the capture and stays active to near its end, so all of
    # them are concurrent: the worst case for the flow table and for periodic reports.
    schedule: list[tuple[float, int, int]] = []  # (ts, flow, index within the flow)
    sizes = []
    for i in range(spec.flows):
        n = per_flow + (1 if i < remainder else 0)
        sizes.append(n)
        start = rng.uniform(0, spec.duration * 0.1)
        stop = rng.uniform(spec.duration * 0.8, spec.duration)
        step = (stop - start) / max(n - 1, 1)
        for k in range(n):
            schedule.append((start + k * step, i, k))
    schedule.sort()
    flow_kinds = rng.choices(kinds, weights, k=spec.flows)
    cache: dict[int, list[bytes]] = {}
    for ts, i, k in schedule:
        frames = cache.get(i)
        if frames is None:
            frames = cache[i] = _conversation(flow_kinds[i], i, sizes[i], random.Random(spec.seed * 1_000_003 + i),
                                              spec.vlan_share)
        yield spec.start + ts, frames[k]
        if k == sizes[i] - 1:
            del cache[i]


# --- an HTTP and DNS heavy generator for the protocol benchmark -------------------------------------


def dns_query(ident: int, name: str, qtype: int = 1) -> bytes:
    """A recursive query for `name` (RFC 1035 wire format)."""
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + _dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_a_response(ident: int, name: str, addresses: list[str], ttl: int = 300) -> bytes:
    """The answer to `dns_query(ident, name)`: A records, the name compressed to the question."""
    answers = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4) + _addr(a) for a in addresses)
    return (struct.pack("!HHHHHH", ident, 0x8180, 1, len(addresses), 0, 0) + _dns_name(name)
            + struct.pack("!HH", 1, 1) + answers)


def _dns_name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def http_request(path: str, host: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: packetshipper-bench/1.0\r\n"
            f"Accept: */*\r\n\r\n").encode()


def http_response(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
            f"Server: bench\r\n\r\n").encode() + body


def _http_conversation(i: int, rng: random.Random) -> list[bytes]:
    return http_conversation(i, rng.choice(HTTP_BODY_SIZES))


HTTP_BODY_SIZES = (200, 900, 2400)


def http_conversation(i: int, body_size: int) -> list[bytes]:
    """Connection `i`'s frames: handshake, one GET, a 200 (or, one in ten, 404) response of `body_size`
    bytes of body in 1,448-byte segments, FIN both ways."""
    client, server = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", f"198.51.100.{i % 50 + 1}"
    sport, dport = 1024 + i % 60000, (80, 8080)[i % 2]
    request = http_request(f"/item/{i}?page={i % 7}", f"shop{i % 13}.example.com")
    status = "200 OK" if i % 10 else "404 Not Found"
    response = http_response(b"<html>" + b"x" * body_size + b"</html>", status)
    c, s = 1000, 7000
    frames = [tcp_frame(client, server, sport, dport, flags="S", seq=c - 1),
              tcp_frame(server, client, dport, sport, flags="SA", seq=s - 1, ack=c),
              tcp_frame(client, server, sport, dport, flags="A", seq=c, ack=s),
              tcp_frame(client, server, sport, dport, request, flags="PA", seq=c, ack=s)]
    c += len(request)
    frames.append(tcp_frame(server, client, dport, sport, flags="A", seq=s, ack=c))
    for start in range(0, len(response), 1448):
        chunk = response[start : start + 1448]
        frames.append(tcp_frame(server, client, dport, sport, chunk, flags="PA", seq=s, ack=c))
        s += len(chunk)
    frames += [tcp_frame(client, server, sport, dport, flags="A", seq=c, ack=s),
               tcp_frame(client, server, sport, dport, flags="FA", seq=c, ack=s),
               tcp_frame(server, client, dport, sport, flags="FA", seq=s, ack=c + 1),
               tcp_frame(client, server, sport, dport, flags="A", seq=c + 1, ack=s + 1)]
    return frames


def _dns_exchange(i: int) -> list[bytes]:
    client, server = f"10.200.{(i >> 8) & 255}.{i & 255}", "192.0.2.53"
    sport, name = 1024 + i % 60000, f"host{i % 5000}.example.org"
    ident = i & 0xFFFF
    return [udp_frame(client, server, sport, 53, dns_query(ident, name)),
            udp_frame(server, client, 53, sport, dns_a_response(ident, name, [f"203.0.113.{i % 250 + 1}"]))]


def generate_http_dns(packets: int = 500_000, duration: float = 20.0, seed: int = 11,
                      start: float = 1_700_000_000.0, concurrent: int = 4000) -> Iterator[tuple[float, bytes]]:
    """HTTP/1.1 connections and DNS exchanges (two of three conversations HTTP), `concurrent` at a time,
    interleaved (see `interleave`)."""
    def conversation(serial: int, rng: random.Random) -> list[bytes]:
        return _http_conversation(serial, rng) if serial % 3 else _dns_exchange(serial)

    return interleave(conversation, packets, duration, seed, start, concurrent)


def interleave(conversation: Callable[[int, random.Random], list[bytes]], packets: int, duration: float, seed: int,
               start: float, concurrent: int) -> Iterator[tuple[float, bytes]]:
    """The frames of `conversation(serial, rng)` for serial 0, 1, ..., `concurrent` conversations open at a
    time, their packets interleaved over about `duration` seconds.

    Conversations start until their frames add up to `packets`; every started one is finished, so the
    capture holds at least `packets` packets and no conversation is cut short by its end.
    """
    rng = random.Random(seed)
    heap: list[tuple[float, int, list[bytes], float]] = []  # (next ts, serial, frames left, gap)
    serial = committed = 0
    clock = 0.0
    step = duration / packets
    while heap or committed < packets:
        while committed < packets and len(heap) < concurrent:
            frames = conversation(serial, rng)
            heapq.heappush(heap, (clock + rng.uniform(0, 0.05), serial, frames, rng.uniform(0.0005, 0.02)))
            committed += len(frames)
            serial += 1
        ts, ident, frames, gap = heapq.heappop(heap)
        clock = max(clock + step, ts)
        yield start + clock, frames[0]
        if len(frames) > 1:
            heapq.heappush(heap, (clock + gap, ident, frames[1:], gap))
