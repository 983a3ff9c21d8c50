"""Regression captures in tests/pcaps/crafted/: snaplen-cut and malformed frames, fragments, and the link
types Packetbeat's corpus lacks, read through the real file source and runner.

The files are made by the builders below (`python tests/test_decode_crafted_pcaps.py` rewrites them);
a test checks that the committed files are exactly what the builders make. See crafted/README.md.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from packetshipper import pcapgen as g
from packetshipper.capture import FileSource
from packetshipper.decode.decoder import LINKTYPES
from packetshipper.testing import run_pcap
from test_decode_framing import (
    V4_CLIENT,
    V4_SERVER,
    V6_CLIENT,
    V6_SERVER,
    ipv4_fragments,
    ipv6_fragments,
    loop,
    null,
    sll2,
    tcp4,
)

CRAFTED = Path(__file__).parent / "pcaps" / "crafted"
START = 1_600_000_000.0
C, S = V4_CLIENT, V4_SERVER

Record = tuple[float, bytes, int]  # ts, captured bytes, wire length


def write(path: Path, linktype: int, records: list[Record], snaplen: int = 65535) -> None:
    with open(path, "wb") as handle:
        writer = g.PcapWriter(handle, linktype, snaplen)
        for ts, data, wire_len in records:
            writer.write(ts, data, wire_len)


def whole(frames: list[bytes]) -> list[Record]:
    return [(START + i * 0.01, f, len(f)) for i, f in enumerate(frames)]


def http_conversation() -> list[bytes]:
    request = b"GET /big HTTP/1.1\r\nHost: example\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2800\r\n\r\n" + b"x" * 2800
    frames = [g.tcp_frame(C, S, 40000, 80, flags="S", seq=0), g.tcp_frame(S, C, 80, 40000, flags="SA", seq=0, ack=1),
              g.tcp_frame(C, S, 40000, 80, request, flags="PA", seq=1, ack=1)]
    seq = 1
    for start in range(0, len(response), 1460):
        chunk = response[start : start + 1460]
        frames.append(g.tcp_frame(S, C, 80, 40000, chunk, flags="PA", seq=seq, ack=1 + len(request)))
        seq += len(chunk)
    frames += [g.tcp_frame(C, S, 40000, 80, flags="FA", seq=1 + len(request), ack=seq),
               g.tcp_frame(S, C, 80, 40000, flags="FA", seq=seq, ack=2 + len(request))]
    return frames


def snaplen_96_http(path: Path) -> None:
    """An HTTP exchange captured with `-s 96`: frames longer than 96 bytes keep their first 96."""
    records = [(ts, f[:96], len(f)) for ts, f, _ in whole(http_conversation())]
    write(path, 1, records, snaplen=96)


def malformed_ethernet(path: Path) -> None:
    """One frame per reason, each captured whole (the frames themselves are bad)."""
    good_tcp = tcp4()
    frames = [
        g.ethernet(b"")[:10],  # truncated_ethernet
        g.ethernet(b"")[:12] + b"\x81\x00\x00",  # truncated_vlan
        g.ethernet(good_tcp[:19]),  # truncated_ipv4
        g.ethernet(b"\x44" + good_tcp[1:]),  # bad_ipv4_header_length
        g.ethernet(good_tcp[:2] + b"\x00\x10" + good_tcp[4:]),  # bad_ipv4_total_length
        g.ethernet(good_tcp[:32] + b"\x40" + good_tcp[33:]),  # bad_tcp_data_offset
        g.ethernet(g.ipv4(C, S, 6, bytes(12))),  # truncated_tcp
        g.ethernet(g.ipv4(C, S, 17, struct.pack("!HHHH", 1, 53, 200, 0) + b"q")),  # bad_udp_length
        g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, 17, b"")[:30], ethertype=0x86DD),  # truncated_ipv6
        g.ethernet(bytes(28), ethertype=0x0806),  # ARP: non_ip
        g.udp_frame(C, S, 40000, 53, b"fine"),  # one good frame
    ]
    write(path, 1, whole(frames))


def fragments_out_of_order(path: Path) -> None:
    """A 3000-byte UDP datagram over IPv4 and one over IPv6, each in three fragments sent last first."""
    v4 = ipv4_fragments(C, S, 17, g.udp(C, S, 5000, 53, b"4" * 3000), 1480, 0x0101)
    v6 = ipv6_fragments(V6_CLIENT, V6_SERVER, 17, g.udp(V6_CLIENT, V6_SERVER, 5000, 53, b"6" * 3000), 1448, 0x0202)
    frames = [g.ethernet(p) for p in reversed(v4)] + [g.ethernet(p, ethertype=0x86DD) for p in reversed(v6)]
    write(path, 1, whole(frames))


def udp_pair(v6: bool = False) -> list[bytes]:
    c, s = (V6_CLIENT, V6_SERVER) if v6 else (C, S)
    make = g.ipv6 if v6 else g.ipv4
    return [make(c, s, 17, g.udp(c, s, 40000, 53, b"query")), make(s, c, 17, g.udp(s, c, 53, 40000, b"answer"))]


def linux_sll2(path: Path) -> None:
    write(path, 276, whole([sll2(p, 0x0800) for p in udp_pair()] + [sll2(p, 0x86DD) for p in udp_pair(True)]))


def bsd_loop(path: Path) -> None:
    write(path, 108, whole([loop(p, 2) for p in udp_pair()] + [loop(p, 24) for p in udp_pair(True)]))


def null_big_endian(path: Path) -> None:
    """DLT_NULL written by a big-endian host: the family reads 0x02000000 in little-endian."""
    write(path, 0, whole([null(p, 2, "big") for p in udp_pair()] + [null(p, 30, "big") for p in udp_pair(True)]))


def raw_ip(path: Path) -> None:
    write(path, 101, whole(udp_pair() + udp_pair(True)))


BUILDERS: dict[str, Callable[[Path], None]] = {
    "snaplen_96_http.pcap": snaplen_96_http,
    "malformed_ethernet.pcap": malformed_ethernet,
    "fragments_out_of_order.pcap": fragments_out_of_order,
    "linux_sll2_udp.pcap": linux_sll2,
    "bsd_loop_udp.pcap": bsd_loop,
    "null_big_endian_udp.pcap": null_big_endian,
    "raw_ip_udp.pcap": raw_ip,
}


@pytest.mark.parametrize("name", BUILDERS)
def test_committed_file_is_what_its_builder_makes(tmp_path: Path, name: str) -> None:
    BUILDERS[name](tmp_path / name)
    assert (CRAFTED / name).read_bytes() == (tmp_path / name).read_bytes()


def capture_of(name: str) -> dict[str, object]:
    return run_pcap(str(CRAFTED / name)).stats["capture"]


def test_snaplen_cut_frames_are_flagged_and_flows_count_wire_bytes() -> None:
    frames = http_conversation()
    result = run_pcap(str(CRAFTED / "snaplen_96_http.pcap"))
    capture = result.stats["capture"]
    cut = sum(1 for f in frames if len(f) > 96)
    assert cut == 2  # the request frame is 90 bytes; the two response segments are 1514 and 1435
    assert capture["snaplen_truncated"] == cut
    assert capture["received"] == len(frames) and capture["fast_path"] == len(frames) - cut
    [flow] = [e for e in result.events if e["type"] == "flow"]
    assert flow["network"]["packets"] == len(frames)
    assert flow["network"]["bytes"] == sum(len(f) for f in frames)


def test_malformed_frames_are_counted_per_reason_and_the_good_one_decodes() -> None:
    capture = capture_of("malformed_ethernet.pcap")
    assert capture["malformed"] == {
        "truncated_ethernet": 1, "truncated_vlan": 1, "truncated_ipv4": 1, "bad_ipv4_header_length": 1,
        "bad_ipv4_total_length": 1, "bad_tcp_data_offset": 1, "truncated_tcp": 1, "bad_udp_length": 1,
        "truncated_ipv6": 1,
    }
    assert (capture["non_ip"], capture["fast_path"], capture["received"]) == (1, 1, 11)


def test_out_of_order_fragments_are_reassembled_from_a_file() -> None:
    result = run_pcap(str(CRAFTED / "fragments_out_of_order.pcap"))
    capture = result.stats["capture"]
    assert (capture["fragments_pending"], capture["decoded"]) == (4, 2)
    assert capture["ip_fragments"]["reassembled"] == 2
    flows = [e for e in result.events if e["type"] == "flow"]
    assert sorted((f["network"]["type"], f["source"]["port"], f["network"]["packets"]) for f in flows) == [
        ("ipv4", 5000, 1), ("ipv6", 5000, 1)]


@pytest.mark.parametrize(
    ("name", "link"),
    [("linux_sll2_udp.pcap", "linux-sll2"), ("bsd_loop_udp.pcap", "loop"), ("null_big_endian_udp.pcap", "null"),
     ("raw_ip_udp.pcap", "raw")],
)
def test_other_link_types_read_from_files(name: str, link: str) -> None:
    assert LINKTYPES[FileSource(str(CRAFTED / name)).linktype] == link
    result = run_pcap(str(CRAFTED / name))
    assert result.stats["capture"]["decoded"] == 4
    flows = sorted((f["network"]["type"], f["source"]["ip"], f["source"]["port"], f["network"]["packets"])
                   for f in result.events if f["type"] == "flow")
    assert flows == [("ipv4", C, 40000, 2), ("ipv6", V6_CLIENT, 40000, 2)]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CRAFTED
    target.mkdir(parents=True, exist_ok=True)
    for file_name, build in BUILDERS.items():
        build(target / file_name)
        print(target / file_name)
