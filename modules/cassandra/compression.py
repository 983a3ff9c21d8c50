"""Compressed frame bodies: lz4 (the `lz4` package) and snappy (`python-snappy`), both optional.

Install them with the `cassandra` extra. Without the library a compressed frame is counted
(`compressed_not_decoded`) and reported from its header. v4 lz4 bodies start with the uncompressed
length as a big-endian [int] (spec section 5); v5 segments carry it in their header instead.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = ["NotDecompressed", "ALGORITHMS", "available", "decompress_body", "lz4_block"]

ALGORITHMS = ("lz4", "snappy")
_LENGTH = struct.Struct(">i")


class NotDecompressed(Exception):
    """The body could not be decompressed here: no library, unknown algorithm, or corrupt data."""


def _load_lz4() -> Callable[[bytes, int], bytes] | None:
    try:
        import lz4.block  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None

    def run(data: bytes, size: int) -> bytes:
        try:
            return bytes(lz4.block.decompress(data, uncompressed_size=size))
        except Exception as exc:  # lz4.block raises LZ4BlockError, a bare Exception subclass
            raise NotDecompressed(f"lz4: {exc}") from exc

    return run


def _load_snappy() -> Callable[[bytes, int], bytes] | None:
    try:
        import snappy  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None

    def run(data: bytes, size: int) -> bytes:
        try:
            return bytes(snappy.uncompress(data))
        except Exception as exc:  # python-snappy's errors have no common base we can name
            raise NotDecompressed(f"snappy: {exc}") from exc

    return run


_LIBRARIES: dict[str, Callable[[bytes, int], bytes] | None] = {"lz4": _load_lz4(), "snappy": _load_snappy()}


def available(algorithm: str) -> bool:
    return _LIBRARIES.get(algorithm) is not None


def lz4_block(data: bytes, size: int) -> bytes:
    """A raw lz4 block of `size` bytes once decompressed (v5 segments)."""
    run = _LIBRARIES["lz4"]
    if run is None:
        raise NotDecompressed("lz4 is not installed (the cassandra extra)")
    out = run(data, size)
    if len(out) != size:
        raise NotDecompressed(f"lz4: {len(out)} bytes, the segment announced {size}")
    return out


def decompress_body(algorithm: str, data: bytes, limit: int) -> bytes:
    """A v3/v4 compressed frame body, at most `limit` bytes once decompressed."""
    run = _LIBRARIES.get(algorithm)
    if algorithm not in _LIBRARIES:
        raise NotDecompressed(f"unknown compression {algorithm!r}")
    if run is None:
        package = "lz4" if algorithm == "lz4" else "python-snappy"
        raise NotDecompressed(f"{algorithm} is not installed ({package}, the cassandra extra)")
    if algorithm == "lz4":
        if len(data) < 4:
            raise NotDecompressed("lz4: body shorter than its length prefix")
        size = _LENGTH.unpack_from(data)[0]
        if size < 0 or size > limit:
            raise NotDecompressed(f"lz4: announced {size} bytes (limit {limit})")
        return run(data[4:], size)
    size = _snappy_length(data)
    if size > limit:
        raise NotDecompressed(f"snappy: announced {size} bytes (limit {limit})")
    return run(data, size)


def _snappy_length(data: bytes) -> int:
    """The uncompressed length a snappy block starts with (a little-endian base-128 varint)."""
    size = shift = 0
    for byte in data[:5]:
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return size
        shift += 7
    raise NotDecompressed("snappy: no length at the start of the block")
