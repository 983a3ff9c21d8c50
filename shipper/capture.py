"""Packet sources: a pcap/pcapng file or a live interface, through pcapy-ng (libpcap).

Both hand out batches from pcapy-ng's `next_batch`: one bytes buffer plus packed metadata of four
native uint32 per packet (seconds, microseconds, offset, captured length), so the per-packet crossing
between C and Python costs nothing. A live source puts libpcap in non-blocking mode and waits with
`select` on its file descriptor, so a stop request is honoured within `POLL_INTERVAL` seconds even on an
idle interface (a blocking `next`/`dispatch` can wait forever there).
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import time
from collections.abc import Iterator
from typing import Any

import pcapy

from . import settings as s
from .settings import Setting

__all__ = ["CaptureError", "FileSource", "LiveSource", "list_devices", "INTERFACE_SETTINGS", "META"]

META = struct.Struct("=IIII")  # sec, usec, offset, caplen
BATCH = 4096
POLL_INTERVAL = 0.2

INTERFACE_SETTINGS = {
    "device": Setting(s.string, "any", "interface to capture on (`any` for all); `-i` overrides"),
    "type": Setting(s.one_of("pcap", "af_packet"), "pcap", "sniffer type; both use libpcap here"),
    "snaplen": Setting(s.at_least(64), 65535, "bytes captured per packet"),
    "buffer_size_mb": Setting(s.at_least(1), 30, "kernel capture buffer, in MiB"),
    "promiscuous": Setting(s.boolean, True, "put the interface in promiscuous mode"),
    "bpf_filter": Setting(s.string, None, "BPF filter; default: built from the enabled modules' ports"),
    "with_vlans": Setting(s.boolean, False, "add `or (vlan and (...))` to the generated filter"),
    "file": Setting(s.string, None, "read this pcap file instead of an interface; `-I` overrides"),
    "topspeed": Setting(s.boolean, False, "read the file as fast as possible instead of at its recorded pace"),
    "loop": Setting(s.at_least(1), 1, "read the file this many times"),
}


# pcap_activate() failure codes (pcap/pcap.h).
_ACTIVATE_ERRORS = {
    -1: "generic libpcap error",
    -5: "no such device",
    -6: "monitor mode not supported",
    -8: "permission denied (run as root or grant CAP_NET_RAW and CAP_NET_ADMIN)",
    -9: "interface is not up",
    -11: "no permission to enable promiscuous mode",
}


class CaptureError(Exception):
    """A capture could not be opened or failed (message is for the user, one line)."""


class _Source:
    linktype: int
    description: str

    def __init__(self) -> None:
        self._stop = False

    def stop(self) -> None:
        """Ask the source to end; safe to call from a signal handler."""
        self._stop = True

    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


class FileSource(_Source):
    """Reads a pcap or pcapng file, at top speed or paced to its recorded timestamps."""

    def __init__(self, path: str, *, topspeed: bool = True, bpf: str | None = None, loops: int = 1) -> None:
        super().__init__()
        if not os.path.exists(path):
            raise CaptureError(f"cannot read {path}: no such file")
        if os.path.isdir(path):
            raise CaptureError(f"cannot read {path}: is a directory")
        self.path = path
        self.topspeed = topspeed
        self.bpf = bpf
        self.loops = loops
        self._reader = self._open()
        self.linktype = self._reader.datalink()
        self.description = f"file {path}"

    def _open(self) -> Any:
        try:
            reader = pcapy.open_offline(self.path)
        except pcapy.PcapError as exc:
            raise CaptureError(f"cannot read {self.path}: {_pcap_message(exc)}") from None
        if self.bpf:
            try:
                reader.setfilter(self.bpf)
            except pcapy.PcapError as exc:
                raise CaptureError(f"bad BPF filter {self.bpf!r}: {_pcap_message(exc)}") from None
        return reader

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        for loop in range(self.loops):
            if loop:
                self._reader = self._open()
            if self.topspeed:
                yield from self._fast()
            else:
                yield from self._paced()
            if self._stop:
                return

    def _fast(self) -> Iterator[tuple[bytes, bytes]]:
        reader = self._reader
        while not self._stop:
            buf, meta = reader.next_batch(BATCH)
            if not meta:
                return
            yield buf, meta

    def _paced(self) -> Iterator[tuple[bytes, bytes]]:
        """One packet at a time, each released when the wall clock reaches its recorded offset."""
        reader = self._reader
        first_ts: float | None = None
        wall_start = 0.0
        while not self._stop:
            buf, meta = reader.next_batch(1)
            if not meta:
                return
            sec, usec, _off, _cap = META.unpack_from(meta)
            ts = sec + usec * 1e-6
            if first_ts is None:
                first_ts, wall_start = ts, time.monotonic()
            delay = (ts - first_ts) - (time.monotonic() - wall_start)
            while delay > 0 and not self._stop:
                time.sleep(min(delay, POLL_INTERVAL))
                delay = (ts - first_ts) - (time.monotonic() - wall_start)
            yield buf, meta


class LiveSource(_Source):
    """Captures on a live interface (`any` included) with libpcap, non-blocking with select()."""

    def __init__(self, device: str, *, snaplen: int = 65535, promiscuous: bool = True,
                 buffer_size_mb: int = 30, bpf: str | None = None) -> None:
        super().__init__()
        self.device = device
        self.bpf = bpf
        try:
            pcap = pcapy.create(device)
            pcap.set_snaplen(snaplen)
            pcap.set_promisc(1 if promiscuous else 0)
            pcap.set_buffer_size(buffer_size_mb * 1024 * 1024)
            pcap.set_timeout(100)
            status = pcap.activate()
        except pcapy.PcapError as exc:
            raise CaptureError(f"cannot capture on {device}: {_pcap_message(exc)}") from None
        if isinstance(status, int) and status < 0:  # pcapy-ng reports activation failures as a status
            reason = _ACTIVATE_ERRORS.get(status, f"libpcap error {status}")
            raise CaptureError(f"cannot capture on {device}: {reason}")
        if bpf:
            try:
                pcap.setfilter(bpf)
            except pcapy.PcapError as exc:
                raise CaptureError(f"bad BPF filter {bpf!r}: {_pcap_message(exc)}") from None
        pcap.setnonblock(1)
        self._pcap = pcap
        self._fd = pcap.getfd()
        self.linktype = pcap.datalink()
        self.description = f"interface {device}"
        self._last_stats = (0, 0, 0)
        self._closed = False

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        pcap = self._pcap
        while not self._stop:
            buf, meta = pcap.next_batch(BATCH)
            if meta:
                yield buf, meta
                continue
            with contextlib.suppress(InterruptedError):  # a signal: the loop re-checks the stop flag
                select.select([self._fd], [], [], POLL_INTERVAL)
            yield b"", b""  # lets the caller run its clock while the wire is idle

    def stats(self) -> dict[str, Any]:
        received, dropped, if_dropped = self._last_stats
        if not self._closed:
            with contextlib.suppress(pcapy.PcapError, ValueError):
                received, dropped, if_dropped = self._last_stats = self._pcap.stats()
        return {"kernel_received": received, "kernel_dropped": dropped, "interface_dropped": if_dropped}

    def close(self) -> None:
        self.stats()  # keep the final counters after the handle is gone
        self._closed = True
        with contextlib.suppress(pcapy.PcapError, AttributeError, ValueError):
            self._pcap.close()


def list_devices() -> list[str]:
    try:
        return list(pcapy.findalldevs())
    except pcapy.PcapError as exc:
        raise CaptureError(f"cannot list devices: {_pcap_message(exc)}") from None


def _pcap_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
