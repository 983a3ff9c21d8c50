"""Framing helpers the decoder tests build frames with, and checks that tshark reads them as meant.

`packetshipper.pcapgen` builds Ethernet, IPv4/IPv6 and TCP/UDP/ICMP from meaning; these add the other
link layers (Linux cooked v1/v2, BSD loopback), IPv4 fragments, IPv6 extension and fragment headers.
Layouts follow the specs: pcap-linktype(7) for the link headers, RFC 791 for IPv4 fragments, RFC 8200
for IPv6 extension headers. tshark, an independent dissector, is the judge of the helpers.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import strategies as st
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import (
    LINK_ETHERNET,
    LINK_IPV4,
    LINK_IPV6,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    LINK_RAW_BSDOS,
    LINK_RAW_OPENBSD,
)

# --- link layers ---------------------------------------------------------------------------------

SLL_MAC = bytes.fromhex("020000000001")


def sll(payload: bytes, protocol: int = 0x0800, packet_type: int = 0, address: bytes = SLL_MAC) -> bytes:
    """Linux cooked v1: packet type, ARPHRD type, address length, 8-byte address, protocol (16 bytes)."""
    return struct.pack("!HHH8sH", packet_type, 1, len(address), address, protocol) + payload


def sll2(payload: bytes, protocol: int = 0x0800, ifindex: int = 2, packet_type: int = 0,
         address: bytes = SLL_MAC) -> bytes:
    """Linux cooked v2: protocol, reserved, interface index, ARPHRD type, packet type, address length,
    8-byte address (20 bytes)."""
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, 1, packet_type, len(address), address) + payload


def null(payload: bytes, family: int = 2, byteorder: str = "little") -> bytes:
    """BSD loopback (DLT_NULL): the address family as a 4-byte integer in the writer's byte order."""
    return family.to_bytes(4, byteorder) + payload  # type: ignore[arg-type]


def loop(payload: bytes, family: int = 2) -> bytes:
    """OpenBSD loopback (DLT_LOOP): the address family, always big-endian."""
    return family.to_bytes(4, "big") + payload


# --- IP building blocks --------------------------------------------------------------------------

V4_CLIENT, V4_SERVER = "10.0.0.1", "10.0.0.2"
V6_CLIENT, V6_SERVER = "2001:db8::1", "2001:db8::2"


def tcp4(payload: bytes = b"hello", *, sport: int = 40000, dport: int = 80, flags: str = "PA",
         options: bytes = b"", ip_options: bytes = b"") -> bytes:
    """An IPv4 packet (no link layer) carrying one TCP segment, client to server."""
    segment = g.tcp(V4_CLIENT, V4_SERVER, sport, dport, payload, flags=flags, seq=1000, ack=2000,
                    window=4096, options=options)
    return g.ipv4(V4_CLIENT, V4_SERVER, 6, segment, ident=7, options=ip_options)


def udp4(payload: bytes = b"query", *, sport: int = 40000, dport: int = 53) -> bytes:
    return g.ipv4(V4_CLIENT, V4_SERVER, 17, g.udp(V4_CLIENT, V4_SERVER, sport, dport, payload), ident=8)


def tcp6(payload: bytes = b"hello", *, sport: int = 40000, dport: int = 80, flags: str = "PA") -> bytes:
    segment = g.tcp(V6_CLIENT, V6_SERVER, sport, dport, payload, flags=flags, seq=1000, ack=2000, window=4096)
    return g.ipv6(V6_CLIENT, V6_SERVER, 6, segment)


def udp6(payload: bytes = b"query", *, sport: int = 40000, dport: int = 53) -> bytes:
    return g.ipv6(V6_CLIENT, V6_SERVER, 17, g.udp(V6_CLIENT, V6_SERVER, sport, dport, payload))


def ipv4_fragments(src: str, dst: str, proto: int, payload: bytes, size: int, ident: int) -> list[bytes]:
    """RFC 791 fragmentation of `payload` (transport header included) into pieces of `size` bytes
    (a multiple of 8, except the last piece)."""
    assert size % 8 == 0
    out = []
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        more = start + size < len(payload)
        out.append(g.ipv4(src, dst, proto, piece, ident=ident, flags_fragment=(0x2000 if more else 0) | start // 8))
    return out


def ipv6_extension(next_header: int, body: bytes = b"") -> bytes:
    """One hop-by-hop, routing or destination options header: padded with PadN to a multiple of 8."""
    size = -(-(len(body) + 2) // 8) * 8
    pad = size - 2 - len(body)
    if pad == 1:
        padding = b"\x00"  # Pad1
    elif pad:
        padding = bytes([1, pad - 2]) + bytes(pad - 2)  # PadN
    else:
        padding = b""
    return bytes([next_header, size // 8 - 1]) + body + padding


def ipv6_fragment_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    """RFC 8200 4.5: next header, reserved, offset (in 8-byte units) << 3 | M, identification."""
    return struct.pack("!BBHI", next_header, 0, offset | int(more), ident)


def ipv6_fragments(src: str, dst: str, next_header: int, fragmentable: bytes, size: int, ident: int,
                   unfragmentable: bytes = b"", first_header: int = 44) -> list[bytes]:
    """IPv6 packets carrying `fragmentable` in pieces of `size` bytes. `unfragmentable` is an
    extension header chain ending in next header 44 (its first header type is `first_header`)."""
    assert size % 8 == 0
    out = []
    for start in range(0, len(fragmentable), size):
        piece = fragmentable[start : start + size]
        more = start + size < len(fragmentable)
        body = unfragmentable + ipv6_fragment_header(next_header, start, more, ident) + piece
        out.append(g.ipv6(src, dst, first_header, body))
    return out


def framed(linktype: int, packet: bytes) -> bytes:
    """`packet` (IPv4 or IPv6) wrapped in the link layer `linktype` expects."""
    v6 = packet[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == LINK_ETHERNET:
        return g.ethernet(packet, ethertype=ethertype)
    if linktype == LINK_LINUX_SLL:
        return sll(packet, ethertype)
    if linktype == LINK_LINUX_SLL2:
        return sll2(packet, ethertype)
    if linktype == LINK_NULL:
        return null(packet, 24 if v6 else 2)
    if linktype == LINK_LOOP:
        return loop(packet, 24 if v6 else 2)
    if linktype in (LINK_RAW, LINK_RAW_OPENBSD, LINK_RAW_BSDOS, LINK_IPV4, LINK_IPV6):
        return packet
    raise ValueError(f"no framing for link type {linktype}")


def write_frames(path: Path, linktype: int, frames: list[bytes], start: float = 1_600_000_000.0) -> Path:
    with open(path, "wb") as handle:
        writer = g.PcapWriter(handle, linktype)
        for i, frame in enumerate(frames):
            writer.write(start + i * 0.001, frame)
    return path


# --- checks against tshark ---------------------------------------------------------------------

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    cmd = ["tshark", "-n", "-r", str(path), *checks, "-T", "fields", "-E", "occurrence=f"]
    for name in fields:
        cmd += ["-e", name]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    return [line.split("\t") for line in result.stdout.splitlines()]


@needs_tshark
@pytest.mark.parametrize(
    ("linktype", "first_layer"),
    [(LINK_LINUX_SLL, "sll"), (LINK_LINUX_SLL2, "sll"), (LINK_NULL, "null"), (LINK_LOOP, "null"),
     (LINK_RAW, "raw"), (LINK_ETHERNET, "eth")],
)
def test_tshark_reads_each_link_framing_as_ipv4_then_tcp(tmp_path: Path, linktype: int, first_layer: str) -> None:
    path = write_frames(tmp_path / "f.pcap", linktype, [framed(linktype, tcp4(b"hello"))])
    [row] = tshark_fields(path, "frame.protocols", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.len",
                          "ip.checksum.status", "tcp.checksum.status")
    layers = row[0].split(":")
    assert layers[0] == first_layer
    assert layers[layers.index("ip") + 1] == "tcp"
    assert row[1:] == [V4_CLIENT, V4_SERVER, "40000", "80", "5", "1", "1"]  # checksums good


@needs_tshark
def test_tshark_reads_sll_fields(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "f.pcap", LINK_LINUX_SLL, [sll(udp6(), 0x86DD, packet_type=4)])
    [row] = tshark_fields(path, "sll.pkttype", "sll.halen", "sll.etype", "ipv6.src", "udp.dstport")
    assert row == ["4", "6", "0x86dd", V6_CLIENT, "53"]


@needs_tshark
def test_tshark_reads_sll2_fields(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "f.pcap", LINK_LINUX_SLL2, [sll2(udp4(), ifindex=7, packet_type=3)])
    [row] = tshark_fields(path, "sll.etype", "sll.ifindex", "sll.pkttype", "ip.src", "udp.dstport")
    assert row == ["0x0800", "7", "3", V4_CLIENT, "53"]


@needs_tshark
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_tshark_reads_null_family_in_either_byte_order(tmp_path: Path, byteorder: str) -> None:
    path = write_frames(tmp_path / "f.pcap", LINK_NULL, [null(tcp6(), 30, byteorder)])
    [row] = tshark_fields(path, "null.family", "ipv6.src", "tcp.dstport")
    assert row == ["30", V6_CLIENT, "80"]


@needs_tshark
def test_tshark_reassembles_the_ipv4_fragments(tmp_path: Path) -> None:
    datagram = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, bytes(range(256)) * 12)
    frames = [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, 1480, 0x1234)]
    path = write_frames(tmp_path / "f.pcap", LINK_ETHERNET, frames)
    rows = tshark_fields(path, "ip.flags.mf", "ip.frag_offset", "udp.length", "udp.checksum.status")
    assert [row[:2] for row in rows] == [["1", "0"], ["1", "185"], ["0", "370"]]  # 8-byte units
    assert rows[2][2:] == [str(len(datagram)), "1"]  # 1: checksum good, over the reassembled datagram


@needs_tshark
def test_tshark_reads_ipv6_extension_chain_then_tcp(tmp_path: Path) -> None:
    segment = g.tcp(V6_CLIENT, V6_SERVER, 40000, 80, b"hello", flags="PA")
    chain = ipv6_extension(60, bytes([5, 2, 0, 0])) + ipv6_extension(6, bytes(4))  # hop-by-hop, dst options
    path = write_frames(tmp_path / "f.pcap", LINK_ETHERNET,
                        [g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, 0, chain + segment), ethertype=0x86DD)])
    [row] = tshark_fields(path, "frame.protocols", "tcp.srcport", "tcp.len", "tcp.checksum.status")
    assert row[0].endswith("ipv6:ipv6.hopopts:ipv6.dstopts:tcp")
    assert row[1:] == ["40000", "5", "1"]


@needs_tshark
def test_tshark_reassembles_the_ipv6_fragments(tmp_path: Path) -> None:
    datagram = g.udp(V6_CLIENT, V6_SERVER, 5000, 53, bytes(range(256)) * 12)
    frames = [g.ethernet(p, ethertype=0x86DD)
              for p in ipv6_fragments(V6_CLIENT, V6_SERVER, 17, datagram, 1448, 0xABCD)]
    path = write_frames(tmp_path / "f.pcap", LINK_ETHERNET, frames)
    rows = tshark_fields(path, "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "udp.length", "udp.checksum.status")
    assert [row[:2] for row in rows] == [["0", "1"], ["181", "1"], ["362", "0"]]  # offsets in 8-byte units
    assert rows[2][2:] == [str(len(datagram)), "1"]


# --- hypothesis strategies for valid frames ----------------------------------------------------

V4_POOL = ["10.0.0.1", "10.0.0.2", "192.0.2.7", "198.51.100.9"]
V6_POOL = ["2001:db8::1", "2001:db8::2", "fe80::1", "::1"]
MAC_POOL = [bytes.fromhex("020000000001"), bytes.fromhex("020000000002"), bytes.fromhex("0a0027000000")]
TCP_FLAG_SETS = ["S", "SA", "A", "PA", "FA", "R", "RA", ""]


@st.composite
def ip_packets(draw: st.DrawFn, ports: list[int] | None = None) -> bytes:
    """One valid IPv4 or IPv6 packet carrying TCP or UDP between endpoints from small pools, so that
    packets of one flow, and of its reverse, come up often."""
    pool = draw(st.sampled_from([V4_POOL, V6_POOL]))
    src, dst = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
    port_choice = st.sampled_from(ports or [53, 80, 443, 40000, 40001])
    sport, dport = draw(port_choice), draw(port_choice)
    payload = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        options = draw(st.sampled_from([b"", bytes.fromhex("020405b4"), bytes.fromhex("01010402 01030307")]))
        flags = draw(st.sampled_from(TCP_FLAG_SETS))
        seq, ack = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))
        transport = g.tcp(src, dst, sport, dport, payload, flags=flags, seq=seq, ack=ack, options=options)
        proto = 6
    else:
        transport = g.udp(src, dst, sport, dport, payload)
        proto = 17
    if ":" in src:
        return g.ipv6(src, dst, proto, transport)
    return g.ipv4(src, dst, proto, transport, ident=draw(st.integers(0, 0xFFFF)))


@st.composite
def link_frames(draw: st.DrawFn, linktype: int, ports: list[int] | None = None) -> bytes:
    """A valid frame of `linktype`; Ethernet frames may carry one VLAN tag and trailing padding."""
    return draw(frames_around(linktype, draw(ip_packets(ports))))


@st.composite
def frames_around(draw: st.DrawFn, linktype: int, packet: bytes) -> bytes:
    if linktype != LINK_ETHERNET:
        return framed(linktype, packet)
    vlans = draw(st.sampled_from([(), (), (5,), (4095,)]))
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    frame = g.ethernet(packet, ethertype=ethertype, vlans=vlans, src_mac=draw(st.sampled_from(MAC_POOL)),
                       dst_mac=draw(st.sampled_from(MAC_POOL)))
    return frame + bytes(max(0, 60 - len(frame)))  # pad to the Ethernet minimum, as a NIC would


@st.composite
def damaged(draw: st.DrawFn, frames: st.SearchStrategy[bytes]) -> bytes:
    """A valid frame with a few bytes overwritten and possibly cut short: reaches deep decoder paths."""
    frame = bytearray(draw(frames))
    for _ in range(draw(st.integers(0, 4))):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[: draw(st.integers(0, len(frame)))])


BOUNDARY_U8 = st.sampled_from([0x00, 0x01, 0x04, 0x05, 0x06, 0x11, 0x2C, 0x3A, 0x44, 0x45, 0x4F, 0x60, 0xF0, 0xFF])
BOUNDARY_U16 = st.sampled_from([0, 1, 3, 7, 8, 19, 20, 28, 40, 0x2000, 0x4000, 0x0800, 0x86DD, 0x8100, 0xFFFF])
CUTS = (0, 1, 19, 20, 21, 27, 28, 39, 40, 41, 45, 47, 48, 59, 60)


@st.composite
def damaged_headers(draw: st.DrawFn, linktype: int) -> bytes:
    """A valid frame with header fields that steer decoding (ethertype, IP version and header length,
    lengths, fragment bits, protocol, TCP data offset, UDP length) set to boundary values, then cut
    at or near a header boundary."""
    packet = draw(ip_packets())
    frame = bytearray(draw(frames_around(linktype, packet)))
    l3 = frame.find(packet)
    v6 = packet[0] >> 4 == 6
    l4 = l3 + (40 if v6 else 20)
    bytes8 = [l3, l3 + 6, l4 + 12] if v6 else [l3, l3 + 9, l4 + 12]
    bytes16 = [l3 + 4, l4 + 4] if v6 else [l3 + 2, l3 + 6, l4 + 4]
    if linktype == LINK_ETHERNET:
        bytes16.append(l3 - 2)
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            at = draw(st.sampled_from(bytes8))
            if at < len(frame):
                frame[at] = draw(st.one_of(BOUNDARY_U8, st.integers(0, 255)))
        else:
            at = draw(st.sampled_from(bytes16))
            if at + 2 <= len(frame):
                frame[at : at + 2] = draw(st.one_of(BOUNDARY_U16, st.integers(0, 0xFFFF))).to_bytes(2, "big")
    cut = draw(st.one_of(st.integers(l3, len(frame)), st.sampled_from([l3 + k for k in CUTS])))
    return bytes(frame[: min(cut, len(frame))])


@st.composite
def fast_path_edges(draw: st.DrawFn, linktype: int) -> bytes:
    """A frame the fast path's first checks accept (link header, IP version, IPv4 header length 5,
    not a fragment, TCP or UDP) with its IP length, TCP data offset or UDP length at an edge and the
    capture cut near the transport header: the frames on which the fast path decides."""
    packet = draw(ip_packets())
    frame = bytearray(draw(frames_around(linktype, packet)))
    l3 = frame.find(packet)
    v6 = packet[0] >> 4 == 6
    l4 = l3 + (40 if v6 else 20)
    if draw(st.booleans()):
        at = l3 + 4 if v6 else l3 + 2
        frame[at : at + 2] = draw(st.one_of(BOUNDARY_U16, st.integers(0, len(packet) + 16))).to_bytes(2, "big")
    if draw(st.booleans()):
        if packet[6 if v6 else 9] == 6:
            frame[l4 + 12] = draw(st.integers(0, 15)) << 4
        else:
            frame[l4 + 4 : l4 + 6] = draw(st.one_of(BOUNDARY_U16, st.integers(0, 80))).to_bytes(2, "big")
    cut = draw(st.one_of(st.just(len(frame)), st.integers(l4 - 4, l4 + 24), st.integers(l3, len(frame))))
    return bytes(frame[: min(cut, len(frame))])
