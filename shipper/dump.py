"""`--dump FILE` (Packetbeat's `-dump`): every captured packet, as it was captured, written to a pcap file.

A tap on the source's batches (`Shipper.batch_taps`): each record of a batch is appended with its own
time and bytes, live or from a file, before the engine sees it. The file is classic pcap with
microsecond times and the source's link type. The batches carry each packet's captured length, not
its length on the wire, so both record lengths are the captured one. A write that fails (disk full)
stops the dump, with one warning saying how many packets it holds; the capture goes on.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import BinaryIO

from .capture import META
from .settings import ConfigError

__all__ = ["PcapDump"]

log = logging.getLogger("packetshipper")

_FILE_HEADER = struct.Struct("<IHHiIII")  # magic, version 2.4, thiszone, sigfigs, snaplen, linktype
_RECORD = struct.Struct("<IIII")  # ts_sec, ts_usec, incl_len, orig_len
_MAGIC_MICROSECONDS = 0xA1B2C3D4

Batches = Iterator[tuple[bytes, bytes]]


class PcapDump:
    """Writes what passes through `wrap(batches)` to `path`; `packets` counts what was written."""

    def __init__(self, path: str, linktype: int, snaplen: int = 262144) -> None:
        self.path = path
        try:
            self._file: BinaryIO | None = open(path, "wb")  # noqa: SIM115 - open for the whole run
            self._file.write(_FILE_HEADER.pack(_MAGIC_MICROSECONDS, 2, 4, 0, 0, snaplen, linktype))
        except OSError as exc:
            raise ConfigError("--dump", f"cannot write {path!r}: {exc.strerror or exc}") from None
        self.packets = 0
        self.failed = False

    def wrap(self, batches: Batches) -> Batches:
        try:
            for buf, meta in batches:
                if meta and self._file is not None:
                    self._write(buf, meta)
                yield buf, meta
        finally:
            self.close()

    def _write(self, buf: bytes, meta: bytes) -> None:
        assert self._file is not None
        pack, view = _RECORD.pack, memoryview(buf)
        parts: list[bytes | memoryview] = []
        for sec, usec, offset, caplen in META.iter_unpack(meta):
            parts.append(pack(sec, usec, caplen, caplen))
            parts.append(view[offset : offset + caplen])
        try:
            self._file.writelines(parts)
        except OSError as exc:
            self.failed = True
            log.warning("--dump: writing %s failed (%s) after %d packets; no more are written, the capture goes on",
                        self.path, exc.strerror or exc, self.packets)
            self.close()
            return
        self.packets += len(meta) // META.size

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                if not self.failed:  # after a failed write, its warning said it all
                    self.failed = True
                    log.warning("--dump: writing %s failed (%s) as it was closed; its last packets may be missing",
                                self.path, exc.strerror or exc)
            self._file = None

    def stats(self) -> dict[str, int | bool]:
        return {"packets": self.packets, "failed": self.failed}
