"""Packet sources: a pcap/pcapng file or a live interface, through pcapy-ng (libpcap).

Both hand out batches: one bytes buffer plus packed metadata of four native uint32 per packet (seconds,
microseconds, offset, captured length), so the per-packet crossing between C and Python costs nothing.
They come from pcapy-ng's `next_batch`, or, for a classic pcap file read at top speed with the compiled
path, from the file's own bytes read in large chunks (`FileSource._direct`). A live source puts libpcap in non-blocking mode and waits with
`select` on its file descriptor, so a stop request is honoured within `POLL_INTERVAL` seconds even on an
idle interface (a blocking `next`/`dispatch` can wait forever there).

A damaged file (a record cut short or with an impossible length) makes `next_batch` raise and lose the
whole batch it was assembling. The file source then reads that batch again packet by packet from a fresh
pass (skipping, batch-wise, what was already delivered), so every intact packet is still handed out before
`DamagedCapture` names the file, the packet number and the damage. A pipe or FIFO (`-I /dev/stdin`) cannot
be read twice, so it is read packet by packet into batches (slower, loses nothing). A gzip capture is read
through a pipe from a decompressing child process (libpcap blocks in `read` holding the GIL, so a thread
could not feed it).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import select
import signal
import stat
import struct
import sys
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pcapy

from . import hotpath
from . import settings as s
from .decode.decoder import LINKTYPES
from .direction import internal_networks, port_range
from .settings import Setting

if TYPE_CHECKING:  # subprocess and ctypes are imported where used: a run of a plain file needs neither
    import subprocess

__all__ = ["CaptureError", "DamagedCapture", "FileSource", "LiveSource", "list_devices", "linktype_name",
           "INTERFACE_SETTINGS", "META"]

META = struct.Struct("=IIII")  # sec, usec, offset, caplen
BATCH = 4096
# The compiled reader of classic pcap files (see `FileSource._direct`): the file header it reads (magic,
# version, zone, sigfigs, snaplen, link type), the one magic it takes (microseconds, this machine's byte
# order), libpcap's snapshot where a file's header gives none or more (MAXIMUM_SNAPLEN), its read sizes.
_FILE_HEADER = struct.Struct("=IHHiIII")
_MICROSECONDS_MAGIC = 0xA1B2C3D4
_LIBPCAP_MAX_SNAPLEN = 262144
_MIN_READ, _FIRST_READ, _MAX_READ = 1 << 16, 1 << 20, 1 << 22
POLL_INTERVAL = 0.2

INTERFACE_SETTINGS = {
    "device": Setting(s.string, "any", "interface to capture on (`any` for all); `-i` overrides"),
    "type": Setting(s.one_of("pcap", "af_packet"), "pcap", "sniffer type: pcap (libpcap) or af_packet (a "
                    "TPACKET_V3 ring of buffer_size_mb per worker, in one fanout group; needs a named "
                    "interface: `any` with one worker is captured by libpcap)"),
    "fanout_group": Setting(s.between(0, 65535), None, "af_packet: the PACKET_FANOUT group id the capture "
                            "sockets join (with packetshipper.workers above 1 and no id, one derived from the "
                            "process id)"),
    "snaplen": Setting(s.between(64, 262144), 65535, "bytes captured per packet (64 to 262144, libpcap's most)"),
    "buffer_size_mb": Setting(s.between(1, 2047), 30, "kernel capture buffer, in MiB (1 to 2047: libpcap takes "
                              "the size in bytes as a C int)"),
    "promiscuous": Setting(s.boolean, True, "put the interface in promiscuous mode"),
    "bpf_filter": Setting(s.string, None, "BPF filter; default: built from the enabled modules' ports"),
    "with_vlans": Setting(s.boolean, False, "add `or (vlan and (...))` to the generated filter"),
    "file": Setting(s.string, None, "read this pcap file instead of an interface; `-I` overrides"),
    "topspeed": Setting(s.boolean, False, "read the file as fast as possible instead of at its recorded pace"),
    "loop": Setting(s.at_least(0), 1, "read the file this many times; 0: forever, as Packetbeat's -l 0"),
    "internal_networks": Setting(internal_networks, [], "CIDRs and named sets (private, loopback, unicast, "
                                 "multicast, link_local, public, ...) that are inside: sets network.direction"),
    "ephemeral_ports": Setting(port_range, [32768, 60999], "client ports (low-high): without a SYN, the side on "
                               "one of these is a flow's client"),
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


class DamagedCapture(CaptureError):
    """A file record that cannot be read; every packet before it was handed out."""

    def __init__(self, path: str, packet: int, reason: str) -> None:
        before = f"packets 1-{packet - 1} were read" if packet > 1 else "no packet before it"
        super().__init__(f"{path}: packet {packet} is damaged: {reason} ({before})")
        self.path = path
        self.packet = packet
        self.reason = reason


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

    def _check_linktype(self) -> None:
        if self.linktype in LINKTYPES:
            return
        self.close()
        supported = ", ".join(_names_with_numbers(LINKTYPES))
        raise CaptureError(f"cannot decode {self.description}: link type {self.linktype} "
                           f"({linktype_name(self.linktype)}) is not supported (supported: {supported})")


class _Pass:
    """One read of a file from its start: the libpcap handle and, for gzip, the decompressing child."""

    __slots__ = ("pcap", "child")

    def __init__(self, pcap: Any, child: subprocess.Popen[bytes] | None) -> None:
        self.pcap = pcap
        self.child = child

    def finish(self) -> str | None:
        """End this pass; for gzip, why the decompressor failed (None: it did not)."""
        if self.pcap is not None:
            with contextlib.suppress(pcapy.PcapError, ValueError):
                self.pcap.close()  # the child's last write, if any is pending, now fails quietly
        child = self.child
        if child is None:
            return None
        import subprocess

        try:
            code = child.wait(_CHILD_WAIT)
        except subprocess.TimeoutExpired:
            return None
        if code in (0, -signal.SIGPIPE) or child.stderr is None:
            return None
        text = child.stderr.read().decode("utf-8", "replace").strip()
        return f"gzip: {text.splitlines()[-1] if text else f'decompressor exit status {code}'}"

    def close(self) -> None:
        if self.pcap is not None:
            with contextlib.suppress(pcapy.PcapError, ValueError):
                self.pcap.close()
        child, self.child = self.child, None
        if child is not None:
            if child.poll() is None:
                child.kill()
            child.wait()
            if child.stderr is not None:
                child.stderr.close()


class FileSource(_Source):
    """Reads a pcap or pcapng file (gzip-compressed too), at top speed or paced to its recorded timestamps."""

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
        # A pipe or FIFO can be read only once: no sniffing its first bytes, no second pass over it.
        self.rereadable = stat.S_ISREG(os.stat(path).st_mode)
        compression = _compression(path) if self.rereadable else None
        if compression not in (None, "gzip"):
            raise CaptureError(f"cannot read {path}: {compression}-compressed captures are not supported "
                               f"(decompress it first; gzip is read as it is)")
        self.gzip = compression == "gzip"
        self.damaged_records = 0  # 0 or 1: reading stops at the first
        self._pass = self._open()
        self.linktype = self._pass.pcap.datalink()
        self.description = f"file {path}"
        self._check_linktype()

    def _open(self, bpf: str | None | bool = True) -> _Pass:
        """A fresh pass over the file, filtered by `self.bpf` (or by `bpf` when given as a string or None)."""
        bpf = self.bpf if bpf is True else bpf
        child = _gunzip(self.path) if self.gzip else None
        name = f"/dev/fd/{child.stdout.fileno()}" if child is not None and child.stdout else self.path
        try:
            pcap = pcapy.open_offline(name)
        except pcapy.PcapError as exc:
            pcap, error = None, exc
        else:
            error = None
        if child is not None and child.stdout:
            child.stdout.close()  # libpcap opened its own descriptor of the pipe
        opened = _Pass(pcap, child)
        if error is not None:
            reason = opened.finish() or _pcap_message(error)
            opened.close()
            raise CaptureError(f"cannot read {self.path}: {reason}")
        if bpf:
            try:
                pcap.setfilter(bpf)
            except pcapy.PcapError as exc:
                opened.close()
                raise CaptureError(f"bad BPF filter {bpf!r}: {_pcap_message(exc)}") from None
        return opened

    def stats(self) -> dict[str, Any]:
        return {"damaged_records": self.damaged_records}

    def close(self) -> None:
        self._pass.close()

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        for loop in range(self.loops) if self.loops else itertools.count():
            if loop:
                self._pass.close()
                self._pass = self._open()
            if self.topspeed:
                yield from self._fast()
            else:
                yield from self._paced()
            if self._stop:
                return

    def _fast(self) -> Iterator[tuple[bytes, bytes]]:
        if not self.rereadable:
            yield from self._singly()
            return
        delivered = 0
        max_caplen = self._direct_max_caplen()
        if max_caplen is not None:
            delivered, ended = yield from self._direct(max_caplen)
            if ended:
                self._end_of_file(delivered)
                return
            if self._stop:
                return
            try:  # libpcap goes on from the first record the compiled reader left to it
                _skip(self._pass.pcap, delivered)
            except pcapy.PcapError as exc:
                raise self._damaged(delivered, exc) from None
        while not self._stop:
            try:
                buf, meta = self._pass.pcap.next_batch(BATCH)
            except pcapy.PcapError as exc:
                failure: Exception | None = exc
            else:
                if not meta:
                    self._end_of_file(delivered)
                    return
                delivered += len(meta) >> 4
                yield buf, meta
                continue
            buf, meta, failure = self._reread_batch(delivered, failure)
            if meta:
                delivered += len(meta) >> 4
                yield buf, meta
            if failure is not None:
                raise self._damaged(delivered, failure)
            if len(meta) >> 4 < BATCH:
                self._end_of_file(delivered)
                return

    def _direct_max_caplen(self) -> int | None:
        """The longest record the compiled reader may take from this file (libpcap's snapshot of it), or
        None when libpcap reads the whole file: no compiled path, a filter to apply, gzip, pcapng, or a
        classic pcap that libpcap would convert (nanoseconds, the other byte order, another version)."""
        if hotpath.compiled is None or not hotpath.enabled or self.bpf or self.gzip:
            return None
        with open(self.path, "rb") as handle:
            head = handle.read(_FILE_HEADER.size)
        if len(head) < _FILE_HEADER.size:
            return None
        magic, major, minor, _zone, _sigfigs, snaplen, _linktype = _FILE_HEADER.unpack(head)
        if magic != _MICROSECONDS_MAGIC or (major, minor) != (2, 4):
            return None
        return _LIBPCAP_MAX_SNAPLEN if snaplen == 0 or snaplen > _LIBPCAP_MAX_SNAPLEN else snaplen

    def _direct(self, max_caplen: int) -> Generator[tuple[bytes, bytes], None, tuple[int, bool]]:
        """Batches of the records that libpcap would hand out unchanged, read in large chunks (each chunk is
        its batches' buffer: no copy of a packet); returns (records delivered, True at the file's clean
        end). It stops short (False) at a record libpcap must judge: one cut short or over `max_caplen`."""
        records = hotpath.compiled.pcap_records  # type: ignore[union-attr]
        read_chunk = hotpath.compiled.read_chunk  # type: ignore[union-attr]
        delivered = 0
        size = _FIRST_READ
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(_FILE_HEADER.size)
            chunk, start = read_chunk(handle.fileno(), b"", size), 0
            while not self._stop:
                meta, end, need = records(chunk, start, max_caplen, BATCH)
                if meta:
                    delivered += len(meta) >> 4
                    yield chunk, meta
                if need < 0:
                    return delivered, False
                if len(meta) >> 4 == BATCH:
                    # Reads of about one batch, so a chunk is seldom the buffer of several (each copied whole
                    # into the workers' ring).
                    size = min(max(end - start, _MIN_READ), _MAX_READ)
                    if end < len(chunk):
                        start = end
                        continue
                rest = chunk[end:]
                chunk, start = read_chunk(handle.fileno(), rest, max(size, need - len(rest))), 0
                if len(chunk) == len(rest):
                    return delivered, not rest
        return delivered, False

    def _singly(self) -> Iterator[tuple[bytes, bytes]]:
        """Batches built packet by packet, so that nothing read before a failure is lost without a reread."""
        delivered = 0
        while not self._stop:
            buf, meta, failure = _read_singly(self._pass.pcap, BATCH)
            if meta:
                delivered += len(meta) >> 4
                yield buf, meta
            if failure is not None:
                raise self._damaged(delivered, failure)
            if len(meta) >> 4 < BATCH:
                return

    def _paced(self) -> Iterator[tuple[bytes, bytes]]:
        """One packet at a time, each released when the wall clock reaches its recorded offset."""
        pcap = self._pass.pcap
        first_ts: float | None = None
        wall_start = 0.0
        delivered = 0
        while not self._stop:
            try:
                buf, meta = pcap.next_batch(1)  # one packet: a failure loses nothing
            except pcapy.PcapError as exc:
                raise self._damaged(delivered, exc) from None
            if not meta:
                self._end_of_file(delivered)
                return
            sec, usec, _off, _cap = META.unpack_from(meta)
            ts = sec + usec * 1e-6
            if first_ts is None:
                first_ts, wall_start = ts, time.monotonic()
            delay = (ts - first_ts) - (time.monotonic() - wall_start)
            while delay > 0 and not self._stop:
                time.sleep(min(delay, POLL_INTERVAL))
                delay = (ts - first_ts) - (time.monotonic() - wall_start)
            delivered += 1
            yield buf, meta

    # --- damaged files ----------------------------------------------------------------------------

    def _reread_batch(self, delivered: int, error: Exception | None) -> tuple[bytes, bytes, Exception | None]:
        """The batch that failed, read again packet by packet from a fresh pass: its intact packets,
        and the error that ended them (None if this pass read a whole batch or to the end without one,
        as when the file was still being written)."""
        self._pass.close()
        self._pass = self._open()
        try:
            _skip(self._pass.pcap, delivered)
        except pcapy.PcapError:
            return b"", b"", error
        return _read_singly(self._pass.pcap, BATCH)

    def _end_of_file(self, delivered: int) -> None:
        """A gzip stream cut at a record boundary looks like a clean end to libpcap: ask the child."""
        reason = self._pass.finish()
        if reason is not None:
            self.damaged_records += 1
            raise DamagedCapture(self.path, self._record_number(delivered), reason)

    def _damaged(self, delivered: int, error: BaseException) -> DamagedCapture:
        reason = _pcap_message(error)
        gzip_reason = self._pass.finish()
        if gzip_reason:
            reason = f"{reason}; {gzip_reason}"
        self.damaged_records += 1
        return DamagedCapture(self.path, self._record_number(delivered), reason)

    def _record_number(self, delivered: int) -> int:
        """The number (from 1) of the first record that could not be read, counting every record of the
        file: with a BPF filter `delivered` counts only matches, so count again on an unfiltered pass."""
        if not self.bpf or not self.rereadable:
            return delivered + 1
        intact = 0
        counted = self._open(bpf=None)
        try:
            while True:
                try:
                    _buf, meta = counted.pcap.next_batch(BATCH)
                except pcapy.PcapError:
                    break
                if not meta:
                    return intact + 1
                intact += len(meta) >> 4
            counted.close()
            counted = self._open(bpf=None)
            _skip(counted.pcap, intact)
            _buf, meta, _error = _read_singly(counted.pcap, BATCH)
            return intact + (len(meta) >> 4) + 1
        except pcapy.PcapError:
            return intact + 1
        finally:
            counted.close()


def _skip(pcap: Any, count: int) -> None:
    """Read past `count` packets (that an earlier pass delivered intact), a batch at a time."""
    while count > 0:
        _buf, meta = pcap.next_batch(min(count, BATCH))
        if not meta:
            raise pcapy.PcapError("the file ended sooner than on the first pass")
        count -= len(meta) >> 4


def _read_singly(pcap: Any, limit: int) -> tuple[bytes, bytes, Exception | None]:
    """Up to `limit` packets with `next()`, as one batch: what `next_batch` would have returned had it
    kept the packets read before a failure. The third item is that failure (None: none)."""
    parts: list[bytes] = []
    meta = bytearray()
    size = 0
    error: Exception | None = None
    for _ in range(limit):
        try:
            header, data = pcap.next()
        except pcapy.PcapError as exc:
            error = exc
            break
        if header is None:
            break
        sec, usec = header.getts()
        # pcapy hands the record's timestamp back signed; next_batch's records hold its raw 32 bits.
        meta += META.pack(sec & 0xFFFFFFFF, usec & 0xFFFFFFFF, size, len(data))
        parts.append(data)
        size += len(data)
    return b"".join(parts), bytes(meta), error


# How compressed files begin; only gzip is read (most capture tools write it; libpcap reads none).
_COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd",
                      b"PK\x03\x04": "zip", b"\x04\x22\x4d\x18": "lz4"}
_CHILD_WAIT = 5.0
# The decompressor: gzip (one member or several) to stdout, every byte it can recover written before its
# one-line reason goes to stderr; output is produced 1 MiB at a time whatever the compression ratio.
# SIGPIPE ends it quietly when the reader goes away early (a stop, or a damaged record).
_GUNZIP_SCRIPT = """
import signal, sys, zlib
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
out, limit = sys.stdout.buffer, 1 << 20
inflate, fed = zlib.decompressobj(31), False
try:
    with open(sys.argv[1], "rb") as f:
        while data := f.read(1 << 16):
            while True:
                piece = inflate.decompress(data, limit)
                out.write(piece)
                fed = fed or bool(data)
                if inflate.eof:
                    data = inflate.unused_data
                    inflate, fed = zlib.decompressobj(31), False
                    if not data:
                        break
                else:
                    data = inflate.unconsumed_tail
                    if not data and len(piece) < limit:
                        break
    out.flush()
    if fed:
        sys.exit("compressed file ended before the end-of-stream marker was reached")
except (OSError, zlib.error) as e:
    out.flush()
    sys.exit(str(e))
"""


def _compression(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            start = handle.read(8)
    except OSError as exc:
        raise CaptureError(f"cannot read {path}: {exc.strerror or exc}") from None
    return next((name for magic, name in _COMPRESSION_MAGIC.items() if start.startswith(magic)), None)


def _gunzip(path: str) -> subprocess.Popen[bytes]:
    # A session of its own: a Ctrl-C meant for packetshipper must not reach the child first.
    import subprocess

    return subprocess.Popen([sys.executable, "-I", "-S", "-c", _GUNZIP_SCRIPT, path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


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
        self._check_linktype()

    def batches(self) -> Iterator[tuple[bytes, bytes]]:
        """Ends with `CaptureError` when the interface goes down or disappears (libpcap reports both)."""
        pcap = self._pcap
        while not self._stop:
            try:
                buf, meta = pcap.next_batch(BATCH)
            except pcapy.PcapError as exc:
                raise CaptureError(f"capture on {self.device} stopped: {_pcap_message(exc)}") from None
            if meta:
                yield buf, meta
                continue
            try:
                select.select([self._fd], [], [], POLL_INTERVAL)
            except InterruptedError:  # a signal: the loop re-checks the stop flag
                pass
            except (OSError, ValueError) as exc:
                raise CaptureError(f"capture on {self.device} stopped: {exc}") from None
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


@functools.cache
def _libpcap() -> Any:
    """libpcap's own link-type names, through the library pcapy-ng is linked to (None: not found)."""
    import ctypes

    try:
        lib = ctypes.CDLL(pcapy.__file__)
        for name in ("pcap_datalink_val_to_name", "pcap_datalink_val_to_description"):
            function = getattr(lib, name)
            function.restype = ctypes.c_char_p
            function.argtypes = [ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return lib


def _names_with_numbers(linktypes: dict[int, str]) -> list[str]:
    """`RAW (12, 14, 101)`: the numbers the decoder reads the same way, under libpcap's name of the first."""
    groups: dict[str, list[int]] = {}
    for dlt in sorted(linktypes):
        groups.setdefault(linktypes[dlt], []).append(dlt)
    lib = _libpcap()
    out = []
    for ours, numbers in groups.items():
        name = lib.pcap_datalink_val_to_name(numbers[0]) if lib is not None else None
        label = name.decode("ascii", "replace") if name else ours
        out.append(f"{label} ({', '.join(map(str, numbers))})")
    return out


def linktype_name(dlt: int) -> str:
    """As tcpdump says it: `EN10MB, Ethernet`, or `unknown` for a number libpcap has no name for."""
    lib = _libpcap()
    if lib is None:
        return "unknown"
    name = lib.pcap_datalink_val_to_name(dlt)
    if not name:
        return "unknown"
    description = lib.pcap_datalink_val_to_description(dlt)
    text = name.decode("ascii", "replace")
    return f"{text}, {description.decode('ascii', 'replace')}" if description else text


_PRINTF_LEFTOVER = re.compile(r"(?<=\d)zu\b")  # libpcap 1.9 prints "a multiple of 4zu"


def _pcap_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _PRINTF_LEFTOVER.sub("", text.splitlines()[0])
