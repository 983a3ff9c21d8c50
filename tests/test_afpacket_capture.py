"""The AF_PACKET source: TPACKET_V3 blocks read as <linux/if_packet.h> lays them out, and on lo the same
frames libpcap captures of the same traffic."""

from __future__ import annotations

import mmap
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from packetshipper.afpacket import AfPacketSource, block_records, ring_geometry
from packetshipper.capture import META, CaptureError, LiveSource

# struct tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net,
# hv1 {rxhash, vlan_tci, vlan_tpid, padding}, padding[8]; then struct sockaddr_ll at TPACKET_ALIGN(48)
_HDR = struct.Struct("=IIIIIIHHIIHH8x")
_SLL = struct.Struct("=HHiHBB8s")
_MAC = 82
_VLAN_VALID, _TPID_VALID = 1 << 4, 1 << 6
_FIRST = 48  # offset_to_first_pkt after the block descriptor


def _block(packets: list[tuple[bytes, int, int, int, int]]) -> bytes:
    """(frame as stored, tp_status, vlan_tci, vlan_tpid, sll_pkttype) per packet, one block."""
    body = b""
    for i, (frame, status, tci, tpid, pkttype) in enumerate(packets):
        size = _MAC + len(frame)
        size += -size % 16
        last = i == len(packets) - 1
        header = _HDR.pack(0 if last else size, 1_700_000_000 + i, 123_456_789, len(frame), len(frame), status,
                           _MAC, _MAC + 14, 0, tci, tpid, 0)
        sll = _SLL.pack(17, 0x0800, 1, 1, pkttype, 6, b"")
        entry = header + sll
        body += (entry + b"\x00" * (_MAC - len(entry)) + frame).ljust(size, b"\x00")
    return b"\x00" * _FIRST + body


def _ethernet(ethertype: int, payload: bytes) -> bytes:
    return bytes.fromhex("020000000002") + bytes.fromhex("020000000001") + struct.pack("!H", ethertype) + payload


def _frames(buf: bytes, meta: bytes) -> list[bytes]:
    return [buf[off:off + cap] for _s, _u, off, cap in META.iter_unpack(meta)]


def test_a_block_gives_every_frame_with_its_time_and_the_vlan_tags_the_kernel_took_out_put_back() -> None:
    ip = bytes(20)
    plain = _ethernet(0x0800, ip)
    tagged_on_wire = bytes.fromhex("020000000002020000000001") + bytes.fromhex("8100" "2064" "0800") + ip
    qinq_on_wire = bytes.fromhex("020000000002020000000001") + bytes.fromhex("88a8" "0007" "0800") + ip
    block = _block([(plain, 1, 0, 0, 0),
                    (_ethernet(0x0800, ip), 1 | _VLAN_VALID, 0x2064, 0, 0),  # no TPID given: 802.1Q
                    (_ethernet(0x0800, ip), 1 | _VLAN_VALID | _TPID_VALID, 7, 0x88A8, 0)])
    meta, tagged = block_records(block, _FIRST, 3)
    assert _frames(block + tagged, meta) == [plain, tagged_on_wire, qinq_on_wire]
    assert [(sec, usec) for sec, usec, _o, _c in META.iter_unpack(meta)] == [
        (1_700_000_000 + i, 123_456) for i in range(3)]


def test_on_a_loopback_device_the_leaving_copy_of_each_packet_is_dropped() -> None:
    frame = _ethernet(0x0800, bytes(20))
    block = _block([(frame, 1, 0, 0, 4), (frame, 1, 0, 0, 0)])  # PACKET_OUTGOING, then PACKET_HOST
    assert len(block_records(block, _FIRST, 2, loopback=True)[0]) == META.size
    assert len(block_records(block, _FIRST, 2, loopback=False)[0]) == 2 * META.size


def _capture_problem() -> str | None:
    try:
        AfPacketSource("lo", buffer_size_mb=1).close()
        LiveSource("lo").close()
    except CaptureError as exc:
        return str(exc)
    return None


def _collect(batches: Iterator[tuple[bytes, bytes]], into: list[tuple[float, bytes]]) -> None:
    for buf, meta in batches:
        into.extend((sec + usec * 1e-6, buf[off:off + cap]) for sec, usec, off, cap in META.iter_unpack(meta))


@pytest.mark.live
@pytest.mark.skipif(_capture_problem() is not None, reason=str(_capture_problem()))
def test_on_lo_af_packet_captures_the_frames_libpcap_captures() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        bpf = f"udp port {server.getsockname()[1]}"
        ours, theirs = AfPacketSource("lo", buffer_size_mb=1, bpf=bpf), LiveSource("lo", bpf=bpf)
        seen_ours: list[tuple[float, bytes]] = []
        seen_theirs: list[tuple[float, bytes]] = []
        readers = [threading.Thread(target=_collect, args=(source.batches(), seen)) for source, seen in
                   ((ours, seen_ours), (theirs, seen_theirs))]
        for reader in readers:
            reader.start()
        time.sleep(0.3)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for size in range(1, 21):
                client.sendto(bytes([size]) * size * 50, server.getsockname())
        time.sleep(0.5)
        ours.stop()
        theirs.stop()
        for reader in readers:
            reader.join(5)
        stats = ours.stats()
        ours.close()
        theirs.close()
    assert len(seen_theirs) == 20
    assert [frame for _ts, frame in seen_ours] == [frame for _ts, frame in seen_theirs]
    # the kernel stamps each socket's copy itself: the same moment, to within a millisecond
    assert all(abs(a - b) < 0.001 for (a, _), (b, _) in zip(seen_ours, seen_theirs, strict=True))
    assert stats["kernel_dropped"] == 0 and stats["kernel_received"] >= 20


@pytest.mark.parametrize(("megabytes", "snaplen"), [(1, 65535), (2, 65535), (2, 1514), (30, 65535), (2047, 96)])
def test_a_ring_is_whole_pages_in_blocks_that_each_hold_a_full_frame_and_many_of_them_where_it_can(
        megabytes: int, snaplen: int) -> None:
    size, count = ring_geometry(megabytes << 20, snaplen)
    assert size & (size - 1) == 0 and size % mmap.PAGESIZE == 0  # what PACKET_RX_RING accepts
    assert size >= snaplen + 82  # tpacket3_hdr and sockaddr_ll come first (_MAC above): no frame is cut
    assert size * count <= megabytes << 20 and count >= min(16, (megabytes << 20) // 131072)


@pytest.mark.live
@pytest.mark.skipif(_capture_problem() is not None, reason=str(_capture_problem()))
def test_a_reader_that_pauses_on_a_quiet_wire_loses_nothing() -> None:
    """Each packet 60 ms after the last: the kernel hands each block over with a packet in it (its retire
    timer is 50 ms) while nobody reads; a ring of a few large blocks would be full after two."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        source = AfPacketSource("lo", buffer_size_mb=1, bpf=f"udp port {server.getsockname()[1]}")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                for i in range(6):
                    client.sendto(bytes([i]) * 10, server.getsockname())
                    time.sleep(0.06)
            seen: list[bytes] = []
            batches = source.batches()
            limit = time.monotonic() + 5
            while len(seen) < 6 and time.monotonic() < limit:
                seen.extend(_frames(*next(batches)))
            stats = source.stats()
        finally:
            source.close()
    assert [frame[-10:] for frame in seen] == [bytes([i]) * 10 for i in range(6)]
    assert stats["kernel_dropped"] == 0
