"""pcapgen builds what it says: header layouts per RFC, checksums that verify, pcap files libpcap and
tshark read back with the timestamps and lengths written."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pcapy
import pytest
from packetshipper import pcapgen as g

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def ones_complement_sum(data: bytes) -> int:
    """RFC 1071: a block whose checksum field is right sums to 0xFFFF."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def pseudo_v4(src: str, dst: str, proto: int, length: int) -> bytes:
    return bytes(map(int, src.split("."))) + bytes(map(int, dst.split("."))) + struct.pack("!BBH", 0, proto, length)


def test_ipv4_header_fields_and_checksum() -> None:
    packet = g.ipv4("192.0.2.1", "198.51.100.2", 17, b"12345678", ident=0xBEEF, ttl=9)
    version_ihl, _tos, total, ident, frag, ttl, proto = struct.unpack_from("!BBHHHBB", packet)
    assert (version_ihl, total, ident, frag, ttl, proto) == (0x45, 28, 0xBEEF, 0x4000, 9, 17)
    assert packet[12:20] == bytes([192, 0, 2, 1, 198, 51, 100, 2])
    assert ones_complement_sum(packet[:20]) == 0xFFFF


def test_ipv4_options_raise_the_header_length() -> None:
    packet = g.ipv4("192.0.2.1", "192.0.2.2", 6, b"", options=bytes([0x94, 4, 0, 0]))
    assert packet[0] == 0x46 and len(packet) == 24
    assert ones_complement_sum(packet[:24]) == 0xFFFF


@pytest.mark.parametrize("size", [3, 44])
def test_unpadded_or_oversized_options_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="multiple of 4 bytes, at most 40"):
        g.ipv4("192.0.2.1", "192.0.2.2", 6, b"", options=bytes(size))
    with pytest.raises(ValueError, match="multiple of 4 bytes, at most 40"):
        g.tcp("192.0.2.1", "192.0.2.2", 1, 2, options=bytes(size))


def test_tcp_header_fields_and_checksum_over_the_pseudo_header() -> None:
    segment = g.tcp("10.1.1.1", "10.2.2.2", 1234, 80, b"hi", flags="SA", seq=7, ack=9, window=512,
                    options=bytes.fromhex("020405b4"))
    sport, dport, seq, ack, offset, flags, window = struct.unpack_from("!HHIIBBH", segment)
    assert (sport, dport, seq, ack, offset >> 4, flags, window) == (1234, 80, 7, 9, 6, 0x12, 512)
    assert segment[24:] == b"hi"
    assert ones_complement_sum(pseudo_v4("10.1.1.1", "10.2.2.2", 6, len(segment)) + segment) == 0xFFFF


def test_udp_length_and_checksum() -> None:
    datagram = g.udp("10.1.1.1", "10.2.2.2", 5353, 53, b"abc")
    assert struct.unpack_from("!HHH", datagram) == (5353, 53, 11)
    assert ones_complement_sum(pseudo_v4("10.1.1.1", "10.2.2.2", 17, 11) + datagram) == 0xFFFF


def test_icmp_echo_request_and_reply_types() -> None:
    assert g.icmp_echo(1, 2)[:1] == b"\x08" and g.icmp_echo(1, 2, reply=True)[:1] == b"\x00"
    v6 = g.icmp_echo(1, 2, v6=True, src="::1", dst="::2")
    assert v6[:1] == b"\x80"
    assert ones_complement_sum(g.icmp_echo(0x1234, 5)) == 0xFFFF


def test_ethernet_tags_use_802_1ad_outside_and_802_1q_inside() -> None:
    frame = g.ethernet(b"x", vlans=(10, 20))
    assert frame[12:22] == bytes.fromhex("88a8 000a 8100 0014 0800")
    assert g.ethernet(b"x", vlans=(30,))[12:18] == bytes.fromhex("8100 001e 0800")


def test_pcap_file_reads_back_through_libpcap(tmp_path: Path) -> None:
    path = tmp_path / "two.pcap"
    frames = [g.udp_frame("10.0.0.1", "10.0.0.2", 1, 2, b"a"), g.tcp_frame("10.0.0.2", "10.0.0.1", 2, 1)]
    assert g.write_pcap(str(path), [(1_600_000_000.25, frames[0]), (1_600_000_001.9999996, frames[1])]) == 2
    reader = pcapy.open_offline(str(path))
    assert reader.datalink() == 1
    header, data = reader.next()
    assert header.getts() == (1_600_000_000, 250_000) and data == frames[0]
    header, data = reader.next()
    assert header.getts() == (1_600_000_002, 0)  # 0.9999996 rounds up into the next second
    assert (header.getlen(), header.getcaplen(), data) == (len(frames[1]), len(frames[1]), frames[1])


def test_writer_records_a_wire_length_longer_than_the_capture(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    with open(path, "wb") as handle:
        g.PcapWriter(handle, snaplen=96).write(5.0, b"\x00" * 96, wire_len=1514)
    raw = path.read_bytes()
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", raw)
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 96, 1)
    assert struct.unpack_from("<IIII", raw, 24) == (5, 0, 96, 1514)


@needs_tshark
def test_tshark_finds_every_checksum_good(tmp_path: Path) -> None:
    frames = [
        g.tcp_frame("10.0.0.1", "10.0.0.2", 40000, 80, b"GET / HTTP/1.1\r\n\r\n", flags="PA", seq=1, ack=1),
        g.udp_frame("10.0.0.1", "10.0.0.2", 40000, 53, b"\x00" * 12),
        g.tcp_frame("2001:db8::1", "2001:db8::2", 40000, 80, b"x", flags="PA", vlans=(5,)),
        g.udp_frame("2001:db8::1", "2001:db8::2", 40000, 5000, b"odd"),
        g.icmp_frame("10.0.0.1", "10.0.0.2", 7, 1),
        g.icmp_frame("2001:db8::1", "2001:db8::2", 7, 1),
    ]
    path = tmp_path / "sums.pcap"
    g.write_pcap(str(path), [(1.0 + i, f) for i, f in enumerate(frames)])
    fields = ["ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status",
              "icmpv6.checksum.status"]
    cmd = ["tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=f"]
    for name in fields:
        cmd += ["-e", name]
    rows = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    statuses = [[value for value in row.split("\t") if value] for row in rows]
    # tshark's checksum status: 1 is good, 0 bad, 2 unverified. IPv6 has no header checksum.
    assert statuses == [["1", "1"], ["1", "1"], ["1"], ["1"], ["1", "1"], ["1"]]
