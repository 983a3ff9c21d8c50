"""OP_COMPRESSED bodies: zlib from the standard library, snappy and zstd when their well-kept Python
packages (python-snappy, zstandard) are installed; otherwise the message is counted, not read."""

from __future__ import annotations

import zlib
from collections.abc import Callable

__all__ = ["decompress", "COMPRESSORS", "NotDecompressed"]

COMPRESSORS = {0: "noop", 1: "snappy", 2: "zlib", 3: "zstd"}


class NotDecompressed(Exception):
    """The body could not be decompressed here (unknown or unavailable compressor, or corrupt data)."""


def _noop(data: bytes, size: int) -> bytes:
    return data


def _zlib(data: bytes, size: int) -> bytes:
    try:
        inflater = zlib.decompressobj()
        return inflater.decompress(data, size + 1)  # never more than one byte past what was announced
    except zlib.error as exc:
        raise NotDecompressed(f"zlib: {exc}") from exc


def _snappy() -> Callable[[bytes, int], bytes] | None:
    try:
        import snappy  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(data: bytes, size: int) -> bytes:
        try:
            return bytes(snappy.uncompress(data))
        except Exception as exc:  # python-snappy's errors have no common base we can name
            raise NotDecompressed(f"snappy: {exc}") from exc

    return run


def _zstd() -> Callable[[bytes, int], bytes] | None:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(data: bytes, size: int) -> bytes:
        try:
            return bytes(zstandard.ZstdDecompressor().decompress(data, max_output_size=size))
        except zstandard.ZstdError as exc:
            raise NotDecompressed(f"zstd: {exc}") from exc

    return run


_DECOMPRESSORS: dict[int, Callable[[bytes, int], bytes] | None] = {0: _noop, 1: _snappy(), 2: _zlib, 3: _zstd()}


def decompress(compressor: int, data: bytes, size: int) -> bytes:
    """`data` decompressed to exactly `size` bytes, or NotDecompressed saying why not."""
    run = _DECOMPRESSORS.get(compressor)
    if run is None:
        name = COMPRESSORS.get(compressor, f"compressor {compressor}")
        raise NotDecompressed(f"{name} is not available here")
    out = run(data, size)
    if len(out) != size:
        raise NotDecompressed(f"{COMPRESSORS[compressor]}: {len(out)} bytes, the header announced {size}")
    return out
