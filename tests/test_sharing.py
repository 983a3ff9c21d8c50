"""Worker shares: both directions of a connection, every fragment of a datagram, one worker."""

from __future__ import annotations

import struct
import zlib

from packetshipper.capture import META
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL, LINK_RAW
from packetshipper.sharing import select, share_of

A4, B4 = bytes([10, 0, 0, 1]), bytes([192, 168, 7, 9])
A6, B6 = bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("fe80" + "00" * 13 + "2a")


def ipv4(src: bytes, dst: bytes, proto: int = 17, frag: int = 0, payload: bytes = b"\x00" * 8) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, frag, 64, proto, 0, src, dst) + payload


def ipv6(src: bytes, dst: bytes, payload: bytes = b"\x00" * 8) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), 17, 64, src, dst) + payload


def ether(packet: bytes, ethertype: int, vlans: tuple[int, ...] = ()) -> bytes:
    tags = b"".join(struct.pack("!HH", 0x8100, vid) for vid in vlans)
    return b"\x02" * 6 + b"\x04" * 6 + tags + struct.pack("!H", ethertype) + packet


def share(frame: bytes, linktype: int = LINK_ETHERNET) -> int:
    return share_of(frame, 0, len(frame), linktype)


def test_the_hash_is_crc32_of_the_smaller_address_then_the_larger() -> None:
    expected = zlib.crc32(A4 + B4)  # 10.0.0.1 sorts before 192.168.7.9
    assert share(ether(ipv4(A4, B4), 0x0800)) == expected
    assert share(ether(ipv4(B4, A4), 0x0800)) == expected
    assert share(ether(ipv6(B6, A6), 0x86DD)) == zlib.crc32(A6 + B6)


def test_both_directions_every_fragment_and_any_vlan_tagging_share_a_worker() -> None:
    frames = [ether(ipv4(A4, B4, frag=0x2000), 0x0800), ether(ipv4(B4, A4, frag=185), 0x0800),
              ether(ipv4(A4, B4, proto=6, payload=b"\x00" * 20), 0x0800, vlans=(5,)),
              ether(ipv4(B4, A4), 0x0800, vlans=(5, 7)), ipv4(A4, B4)]
    links = [LINK_ETHERNET] * 4 + [LINK_RAW]
    assert len({share(f, link) for f, link in zip(frames, links, strict=True)}) == 1
    sll = b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 6 + b"\x00\x00" + struct.pack("!H", 0x0800) + ipv4(B4, A4)
    assert share(sll, LINK_LINUX_SLL) == share(frames[0])


def test_frames_without_an_ip_address_pair_go_to_worker_zero() -> None:
    arp = ether(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20, 0x0806)
    truncated = ether(ipv4(A4, B4)[:16], 0x0800)
    assert share(arp) == share(truncated) == share(b"\x02" * 10) == 0


def test_select_keeps_each_workers_records_in_order_and_shares_out_every_packet() -> None:
    frames = [ether(ipv4(bytes([10, 0, i, 1]), bytes([10, 1, 0, i])), 0x0800) for i in range(40)]
    buf = b"".join(frames)
    meta, off = bytearray(), 0
    for i, frame in enumerate(frames):
        meta += META.pack(1000 + i, 0, off, len(frame))
        off += len(frame)
    parts = [list(META.iter_unpack(select(buf, bytes(meta), LINK_ETHERNET, k, 3))) for k in range(3)]
    assert sorted(r for part in parts for r in part) == list(META.iter_unpack(bytes(meta)))
    for k, part in enumerate(parts):
        assert part == sorted(part)
        assert all(share_of(buf, r[2], r[3], LINK_ETHERNET) % 3 == k for r in part)
    assert all(parts)  # 40 distinct address pairs spread over all three
