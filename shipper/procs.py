"""Which local process owns a socket, as Packetbeat's process watcher finds it (`packetshipper.procs`).

The kernel's socket tables (/proc/net/tcp, tcp6, udp, udp6) map a local address and port to a socket
inode; each process's /proc/PID/fd links name the inodes it holds. Both are read again at most once per
`refresh_interval`, and only when a lookup misses; every table is bounded (`max_sockets`,
`max_processes`) and what did not fit is counted. Live capture only: a file's sockets are long gone.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import settings as s
from .settings import Setting, Spec

__all__ = ["PROCS_SETTINGS", "ProcessInfo", "ProcessWatcher"]

PROCS_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, False, "add the local process (source.process.*, destination.process.*, "
                       "process.*) to flows and transactions of live capture, from /proc"),
    "refresh_interval": Setting(s.at_least(0.0, s.duration), 1.0, "read /proc again at most this often, and only "
                                "when a lookup misses"),
    "max_sockets": Setting(s.between(16, 10_000_000), 65536, "sockets remembered; more are counted (procs.sockets_over_limit)"),
    "max_processes": Setting(s.between(16, 1_000_000), 4096, "processes remembered; more are counted"),
}

_TABLES = (("tcp", 6, socket.AF_INET), ("tcp6", 6, socket.AF_INET6), ("udp", 17, socket.AF_INET),
           ("udp6", 17, socket.AF_INET6))
_ANY = {4: bytes(4), 16: bytes(16)}


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    ppid: int
    name: str
    args: tuple[str, ...]
    executable: str | None
    start: str | None
    working_directory: str | None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pid": self.pid, "ppid": self.ppid, "name": self.name, "args": list(self.args)}
        if self.executable:
            out["executable"] = self.executable
        if self.start:
            out["start"] = self.start
        if self.working_directory:
            out["working_directory"] = self.working_directory
        return out


def _address(text: str, family: int) -> tuple[bytes, int]:
    """`0100007F:1F90` (the kernel's words in host order) -> (address bytes in network order, port)."""
    hex_address, hex_port = text.split(":")
    raw = bytes.fromhex(hex_address)
    # Each 32-bit word is printed as the host (little-endian) holds it: swap within every word.
    address = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if family == socket.AF_INET:
        address = address[:4]
    return address, int(hex_port, 16)


class ProcessWatcher:
    def __init__(self, settings: dict[str, Any], root: str = "/proc", clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_interval: float = settings["refresh_interval"]
        self.max_sockets: int = settings["max_sockets"]
        self.max_processes: int = settings["max_processes"]
        self.root = root
        self._clock = clock
        self._sockets: dict[tuple[int, bytes, int], int] = {}  # (proto, local address, port) -> inode
        self._owners: dict[int, int] = {}  # inode -> pid
        self._processes: dict[int, ProcessInfo | None] = {}
        self._last_refresh = float("-inf")
        self._boot_time = self._read_boot_time()
        self._clock_ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.refreshes = 0
        self.hits = 0
        self.misses = 0
        self.sockets_over_limit = 0
        self.processes_over_limit = 0

    # --- lookups -----------------------------------------------------------------------------------

    def lookup(self, proto: int, address: bytes, port: int) -> ProcessInfo | None:
        """The process holding a local socket bound to (address, port), or None (not local, or gone)."""
        inode = self._inode(proto, address, port)
        if inode is None and self._may_refresh():
            self._refresh()
            inode = self._inode(proto, address, port)
        if inode is None:
            self.misses += 1
            return None
        pid = self._owners.get(inode)
        if pid is None:
            self.misses += 1
            return None
        self.hits += 1
        return self._process(pid)

    def _inode(self, proto: int, address: bytes, port: int) -> int | None:
        inode = self._sockets.get((proto, address, port))
        if inode is None:
            inode = self._sockets.get((proto, _ANY.get(len(address), b""), port))
        return inode

    def _may_refresh(self) -> bool:
        return self._clock() - self._last_refresh >= self.refresh_interval

    # --- reading /proc -------------------------------------------------------------------------------

    def _refresh(self) -> None:
        self._last_refresh = self._clock()
        self.refreshes += 1
        sockets: dict[tuple[int, bytes, int], int] = {}
        for table, proto, family in _TABLES:
            try:
                with open(os.path.join(self.root, "net", table), encoding="ascii", errors="replace") as fh:
                    next(fh, None)
                    for line in fh:
                        parts = line.split()
                        if len(parts) < 10:
                            continue
                        inode = int(parts[9])
                        if not inode:
                            continue
                        if len(sockets) >= self.max_sockets:
                            self.sockets_over_limit += 1
                            continue
                        address, port = _address(parts[1], family)
                        sockets[(proto, address, port)] = inode
            except (OSError, ValueError):
                continue
        self._sockets = sockets
        wanted = set(sockets.values())
        owners: dict[int, int] = {}
        try:
            pids = [int(name) for name in os.listdir(self.root) if name.isdigit()]
        except OSError:
            pids = []
        for pid in pids:
            fd_dir = os.path.join(self.root, str(pid), "fd")
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    if inode in wanted and inode not in owners:
                        owners[inode] = pid
        self._owners = owners
        alive = set(owners.values())
        self._processes = {pid: info for pid, info in self._processes.items() if pid in alive}

    def _process(self, pid: int) -> ProcessInfo | None:
        if pid in self._processes:
            return self._processes[pid]
        info = self._read_process(pid)
        if len(self._processes) >= self.max_processes:
            self.processes_over_limit += 1
            return info
        self._processes[pid] = info
        return info

    def _read_process(self, pid: int) -> ProcessInfo | None:
        base = os.path.join(self.root, str(pid))
        try:
            with open(os.path.join(base, "stat"), encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
            with open(os.path.join(base, "cmdline"), "rb") as fh:
                cmdline = fh.read()
        except OSError:
            return None
        # `pid (comm) state ppid ...`: comm may hold spaces and parentheses; it ends at the last ')'.
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        rest = stat[stat.rfind(")") + 2 :].split()
        ppid = int(rest[1]) if len(rest) > 1 else 0
        start = None
        if len(rest) > 19 and self._boot_time is not None:
            started = self._boot_time + int(rest[19]) / self._clock_ticks
            start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)) + f".{int(started % 1 * 1000):03d}Z"
        args = tuple(part.decode("utf-8", "replace") for part in cmdline.split(b"\0") if part)
        return ProcessInfo(pid, ppid, name, args, self._link(base, "exe"), start, self._link(base, "cwd"))

    @staticmethod
    def _link(base: str, name: str) -> str | None:
        try:
            return os.readlink(os.path.join(base, name))
        except OSError:
            return None

    def _read_boot_time(self) -> float | None:
        try:
            with open(os.path.join(self.root, "stat"), encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("btime "):
                        return float(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def stats(self) -> dict[str, int]:
        return {"refreshes": self.refreshes, "hits": self.hits, "misses": self.misses, "sockets": len(self._sockets),
                "sockets_over_limit": self.sockets_over_limit, "processes": len(self._processes),
                "processes_over_limit": self.processes_over_limit}
