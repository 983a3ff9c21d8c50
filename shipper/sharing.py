"""Which worker a packet belongs to: a symmetric hash of its two IP addresses.

With `packetshipper.workers: N`, every packet of a capture file is given to one of N workers by
`share_of(...) % N`. The hash covers the two IP addresses only, smaller first, so both directions of a
connection and every fragment of a datagram (later fragments carry no ports) land in the same worker, and
flows, TCP streams and transactions never cross workers. Frames that carry no IP packet (ARP, truncated
headers, unknown link types) all go to worker 0, where the decoder counts them as it does today.

This is the reference; where the compiled hot path is installed, `select` runs its `select_share`, which
gives the same records.
"""

from __future__ import annotations

import struct
import zlib

from . import hotpath
from .capture import META
from .decode.decoder import (
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

__all__ = ["share_of", "select"]

_VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})
_MAX_VLAN_TAGS = 2
_U16 = struct.Struct("!H")
_RAW_LINKS = frozenset({LINK_RAW, LINK_RAW_OPENBSD, LINK_RAW_BSDOS, LINK_IPV4, LINK_IPV6})


def _ip_header(buf: bytes, off: int, caplen: int, linktype: int) -> tuple[int, int]:
    """(IP version, offset of the IP header) of the frame, or (0, 0) if it carries none."""
    end = off + caplen
    if linktype == LINK_ETHERNET:
        ethertype_at, p = off + 12, off + 14
    elif linktype == LINK_LINUX_SLL:
        ethertype_at, p = off + 14, off + 16
    elif linktype == LINK_LINUX_SLL2:
        ethertype_at, p = off, off + 20
    elif linktype in (LINK_NULL, LINK_LOOP):
        p = off + 4
        if p > end:
            return 0, 0
        version = buf[p] >> 4 if p < end else 0
        return (version, p) if version in (4, 6) else (0, 0)
    elif linktype in _RAW_LINKS:
        version = buf[off] >> 4 if off < end else 0
        return (version, off) if version in (4, 6) else (0, 0)
    else:
        return 0, 0
    if p > end:
        return 0, 0
    ethertype = _U16.unpack_from(buf, ethertype_at)[0]
    tags = 0
    while ethertype in _VLAN_ETHERTYPES and tags < _MAX_VLAN_TAGS and p + 4 <= end:
        ethertype = _U16.unpack_from(buf, p + 2)[0]
        p += 4
        tags += 1
    if ethertype == 0x0800:
        return 4, p
    if ethertype == 0x86DD:
        return 6, p
    return 0, 0


def share_of(buf: bytes, off: int, caplen: int, linktype: int) -> int:
    """The symmetric hash of the frame `buf[off:off+caplen]`: CRC-32 of its two IP addresses, the
    smaller first; 0 for a frame without a complete IP address pair."""
    version, ip = _ip_header(buf, off, caplen, linktype)
    if version == 4 and ip + 20 <= off + caplen:
        a, b = buf[ip + 12 : ip + 16], buf[ip + 16 : ip + 20]
    elif version == 6 and ip + 40 <= off + caplen:
        a, b = buf[ip + 8 : ip + 24], buf[ip + 24 : ip + 40]
    else:
        return 0
    return zlib.crc32(a + b if a <= b else b + a)


def select(buf: bytes, meta: bytes, linktype: int, index: int, count: int) -> bytes:
    """The records of `meta` (a `next_batch` index: sec, usec, offset, caplen) whose packets belong to
    worker `index` of `count`, in their order."""
    if hotpath.enabled and hotpath.compiled is not None:
        return hotpath.compiled.select_share(buf, meta, linktype, index, count)  # type: ignore[no-any-return]
    keep = bytearray()
    for record in META.iter_unpack(meta):
        if share_of(buf, record[2], record[3], linktype) % count == index:
            keep += META.pack(*record)
    return bytes(keep)
