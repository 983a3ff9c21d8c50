"""Live capture through an AF_PACKET socket with a TPACKET_V3 ring, optionally in a fanout group.

The kernel fills the blocks of a memory-mapped ring; a block is handed over when it is full or when
`_RETIRE_MS` have passed, and given back once read. Each block becomes one batch in the shape of
pcapy-ng's `next_batch` (one bytes buffer, packed sec/usec/offset/caplen records), so the engine does not
know which capture it runs on. With `fanout_group`, several sockets (one per worker process) join one
group with PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG: the kernel gives every packet of a flow (both
directions: its flow hash is symmetric), and every fragment of a datagram once reassembled, to one socket.
The BPF filter is compiled by libpcap (through pcapy-ng) and attached with SO_ATTACH_FILTER.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import select
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pcapy

from .capture import META, POLL_INTERVAL, CaptureError
from .decode.decoder import LINK_ETHERNET

__all__ = ["AfPacketSource", "compile_filter", "check_device", "block_records", "ring_geometry"]

# <linux/if_packet.h>, <linux/if_ether.h>, <asm-generic/socket.h>, <linux/if_arp.h>
_SOL_PACKET = 263
_PACKET_RX_RING = 5
_PACKET_STATISTICS = 6
_PACKET_VERSION = 10
_PACKET_FANOUT = 18
_TPACKET_V3 = 2
_PACKET_FANOUT_HASH = 0
_PACKET_FANOUT_FLAG_DEFRAG = 0x8000
_SO_ATTACH_FILTER = 26
_SO_TIMESTAMPNS = 35
_ETH_P_ALL = 0x0003
_TP_STATUS_USER = 1
_TP_STATUS_KERNEL = 0
_TP_STATUS_VLAN_VALID = 1 << 4
_TP_STATUS_VLAN_TPID_VALID = 1 << 6
_ETH_P_8021Q = 0x8100
_PACKET_OUTGOING = 4
_ARPHRD_ETHER = 1
_ARPHRD_LOOPBACK = 772

_MAX_BLOCK_SIZE = 1 << 20  # bytes per ring block at most (blocks are powers of two, multiples of a page)
_MIN_BLOCKS = 16  # a ring has at least this many blocks where its size allows (see ring_geometry)
_FRAME_OVERHEAD = 256  # tpacket3_hdr, sockaddr_ll and alignment before a frame's first byte, rounded up
_RETIRE_MS = 50  # a block that is not full is handed over after this long: idle traffic is not held back
_FRAME_SIZE = 1 << 11  # only used to size tp_frame_nr; TPACKET_V3 frames are variable

_REQ3 = struct.Struct("=7I")  # block_size, block_nr, frame_size, frame_nr, retire_blk_tov, sizeof_priv, feature_req_word
_BLOCK_HDR = struct.Struct("=IIIIII")  # version, offset_to_priv, block_status, num_pkts, offset_to_first_pkt, blk_len
# next_offset, sec, nsec, snaplen, len, status, mac, net, then hv1: rxhash, vlan_tci, vlan_tpid
_PKT_HDR = struct.Struct("=IIIIIIHHIIH")
_VLAN_TAG = struct.Struct("!HH")
_SLL_PKTTYPE = 48 + 10  # sockaddr_ll follows the 48-byte tpacket3_hdr; sll_pkttype is its 11th byte
_STATS_V3 = struct.Struct("=III")  # tp_packets, tp_drops, tp_freeze_q_cnt


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def check_device(device: str) -> int:
    """The interface index of `device`; CaptureError (one line) if it cannot be used with af_packet."""
    if device == "any":
        raise CaptureError("packetshipper.interfaces.type af_packet needs a named interface, not `any` "
                           "(or use type pcap)")
    try:
        return socket.if_nametoindex(device)
    except OSError:
        raise CaptureError(f"cannot capture on {device}: no such device") from None


def compile_filter(bpf: str, snaplen: int) -> list[tuple[int, int, int, int]]:
    """libpcap's compiled program for `bpf` on an Ethernet link, as (code, jt, jf, k) instructions."""
    try:
        return list(pcapy.compile(LINK_ETHERNET, snaplen, bpf, 1, 0).get_bpf())
    except pcapy.PcapError as exc:
        raise CaptureError(f"bad BPF filter {bpf!r}: {str(exc).strip()}") from None


class AfPacketSource:
    """One TPACKET_V3 ring on `device`; with `fanout_group`, one member of that group."""

    live = True
    linktype = LINK_ETHERNET

    def __init__(self, device: str, *, snaplen: int = 65535, promiscuous: bool = True, buffer_size_mb: int = 30,
                 bpf: str | None = None, fanout_group: int | None = None) -> None:
        self.device = device
        self.description = f"interface {device} (af_packet)" + (
            f", fanout group {fanout_group}" if fanout_group is not None else "")
        self._stop = False
        self._received = self._dropped = self._freezes = 0
        ifindex = check_device(device)
        program = compile_filter(bpf, snaplen) if bpf else None
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        try:
            self._ring, self._blocks = self._open(ifindex, snaplen, promiscuous, buffer_size_mb, program,
                                                  fanout_group)
        except OSError as exc:
            self._sock.close()
            raise CaptureError(f"cannot capture on {device} (af_packet): {exc.strerror or exc}") from None
        self._loopback = _hardware_type(device) == _ARPHRD_LOOPBACK

    def _open(self, ifindex: int, snaplen: int, promiscuous: bool, buffer_size_mb: int,
              program: list[tuple[int, int, int, int]] | None, fanout_group: int | None) -> tuple[mmap.mmap, int]:
        sock = self._sock
        # Stamps taken when the packet arrives, not when it is copied into the ring: the same for every
        # socket that sees it (a second capture, another member of the group), and nearer the wire.
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        if program is not None:
            _attach_filter(sock, program)
        sock.setsockopt(_SOL_PACKET, _PACKET_VERSION, _TPACKET_V3)
        block_size, blocks = ring_geometry(buffer_size_mb << 20, snaplen)
        frames = block_size // _FRAME_SIZE * blocks
        sock.setsockopt(_SOL_PACKET, _PACKET_RX_RING,
                        _REQ3.pack(block_size, blocks, _FRAME_SIZE, frames, _RETIRE_MS, 0, 0))
        ring = mmap.mmap(sock.fileno(), block_size * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        sock.bind((self.device, _ETH_P_ALL))
        if promiscuous:
            _set_promiscuous(sock, ifindex)
        if fanout_group is not None:
            flags = _PACKET_FANOUT_HASH | _PACKET_FANOUT_FLAG_DEFRAG
            sock.setsockopt(_SOL_PACKET, _PACKET_FANOUT, struct.pack("=I", (fanout_group & 0xFFFF) | (flags << 16)))
        self._snaplen = snaplen
        self._block_size = block_size
        return ring, blocks

    def stop(self) -> None:
        """Ask the source to end; safe to call from a signal handler."""
        self._stop = True

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        """One batch per ring block; (b"", b"") every POLL_INTERVAL while the wire is idle."""
        ring, index, fd, block_size = self._ring, 0, self._sock.fileno(), self._block_size
        while not self._stop:
            start = index * block_size
            _v, _p, status, count, first, length = _BLOCK_HDR.unpack_from(ring, start)
            if not status & _TP_STATUS_USER:
                try:
                    select.select([fd], [], [], POLL_INTERVAL)
                except InterruptedError:
                    pass
                except (OSError, ValueError) as exc:
                    raise CaptureError(f"capture on {self.device} stopped: {exc}") from None
                yield b"", b""
                continue
            buf = ring[start:start + length]
            struct.pack_into("=I", ring, start + 8, _TP_STATUS_KERNEL)  # the block is copied: give it back
            index = (index + 1) % self._blocks
            meta, tagged = block_records(buf, first, count, self._loopback)
            if meta:
                yield (buf + tagged if tagged else buf), meta
        self._read_statistics()


    def _read_statistics(self) -> None:
        """PACKET_STATISTICS resets the kernel's counters on every read: add them up here."""
        with contextlib.suppress(OSError):
            packets, drops, freezes = _STATS_V3.unpack(
                self._sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _STATS_V3.size))
            self._received += packets  # the kernel counts dropped packets in tp_packets too
            self._dropped += drops
            self._freezes += freezes

    def stats(self) -> dict[str, Any]:
        if self._sock.fileno() >= 0:
            self._read_statistics()
        return {"kernel_received": self._received, "kernel_dropped": self._dropped,
                "kernel_queue_freezes": self._freezes}

    def close(self) -> None:
        if self._sock.fileno() < 0:
            return
        self._read_statistics()
        with contextlib.suppress(BufferError, ValueError):
            self._ring.close()
        self._sock.close()


def ring_geometry(buffer_bytes: int, snaplen: int) -> tuple[int, int]:
    """(block size, block count) for a ring of about `buffer_bytes`. The kernel hands a block over when
    it is full or `_RETIRE_MS` after its first packet, so on a quiet wire each block holds a packet or two:
    a ring of few large blocks is full of them after a short pause of its reader, and drops what follows.
    Blocks are made small enough for `_MIN_BLOCKS` of them, and never smaller than one whole frame of
    `snaplen` bytes (the kernel cuts a frame to what its block can hold)."""
    page = mmap.PAGESIZE
    smallest = 1 << max(snaplen + _FRAME_OVERHEAD - 1, page - 1).bit_length()
    wanted = buffer_bytes // _MIN_BLOCKS
    size = 1 << (wanted.bit_length() - 1) if wanted > 0 else smallest
    size = max(smallest, min(size, _MAX_BLOCK_SIZE))
    return size, max(1, buffer_bytes // size)


def block_records(buf: bytes, offset: int, count: int, loopback: bool = False) -> tuple[bytes, bytes]:
    """The records (META) of the `count` packets of a TPACKET_V3 block `buf` from `offset`, and the frames
    whose VLAN tag the kernel took out, rebuilt with it (as libpcap does), to append to the block: their
    records point there. `loopback`: drop the copies of packets leaving (a loopback device sees each twice)."""
    records, tagged = bytearray(), bytearray()
    pack, unpack, end = META.pack, _PKT_HDR.unpack_from, len(buf)
    for _ in range(count):
        next_offset, sec, nsec, caplen, _len, status, mac, _net, _hash, tci, tpid = unpack(buf, offset)
        # libpcap's rule: on a loopback device every packet is seen leaving and arriving; keep one
        if not (loopback and buf[offset + _SLL_PKTTYPE] == _PACKET_OUTGOING):
            if status & _TP_STATUS_VLAN_VALID and caplen >= 12:
                frame = offset + mac
                tpid = tpid if status & _TP_STATUS_VLAN_TPID_VALID else _ETH_P_8021Q
                records += pack(sec, nsec // 1000, end + len(tagged), caplen + 4)
                tagged += buf[frame:frame + 12] + _VLAN_TAG.pack(tpid, tci & 0xFFFF) + buf[frame + 12:frame + caplen]
            else:
                records += pack(sec, nsec // 1000, offset + mac, caplen)
        if not next_offset:
            break
        offset += next_offset
    return bytes(records), bytes(tagged)


def _attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    instructions = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), instructions)
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, bytes(fprog))  # type: ignore[call-overload]


def _set_promiscuous(sock: socket.socket, ifindex: int) -> None:
    """PACKET_ADD_MEMBERSHIP with PACKET_MR_PROMISC: dropped by the kernel when the socket closes."""
    packet_add_membership, packet_mr_promisc = 1, 1
    mreq = struct.pack("=iHH8s", ifindex, packet_mr_promisc, 0, b"")
    sock.setsockopt(_SOL_PACKET, packet_add_membership, mreq)


def _hardware_type(device: str) -> int:
    try:
        with open(f"/sys/class/net/{device}/type", encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return _ARPHRD_ETHER
