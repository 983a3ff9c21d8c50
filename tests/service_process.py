"""Support for the tests that run `packetshipper` as users do: a process with its log on stderr, a DNS
responder on loopback, a server that accepts connections and never answers.

Live capture on `lo` needs root (or CAP_NET_RAW); `CAPTURE_PROBLEM` says why not, for a skip reason.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from packetshipper.capture import CaptureError, LiveSource

_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")

__all__ = ["CAPTURE_PROBLEM", "DnsResponder", "SilentServer", "ShipperProcess", "closed_port",
           "dns_events", "live_config"]


def _capture_problem() -> str | None:
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return str(exc)
    return None


CAPTURE_PROBLEM = _capture_problem()


def closed_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DnsResponder:
    """Answers every A query on 127.0.0.1:`port` with 127.0.0.1 (RFC 1035 wire format, built here)."""

    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self.peers: list[tuple[str, int]] = []  # each query's sender, as this server saw it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, peer = self._server.recvfrom(4096)
            except OSError:
                continue
            self.peers.append(peer)
            end = 12
            while end < len(query) and query[end]:
                end += 1 + query[end]
            question = query[12 : end + 5]
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
            header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
            self._server.sendto(header + question + answer, peer)

    def ask(self, ident: int, name: str) -> None:
        """One query from a fresh client socket, waiting for the answer."""
        labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\x00"
        query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(query, ("127.0.0.1", self.port))
            assert client.recv(4096)[:2] == query[:2]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


class SilentServer:
    """Accepts TCP connections on 127.0.0.1:`port` and never answers: a request hangs until it times out."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.connections.append(conn)  # held open, never read from nor answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.connections:
            conn.close()
        self._listener.close()


def live_config(path: Path, dns_port: int, extra: str = "") -> Path:
    """packetshipper.yml for a live capture on lo of the DNS module on `dns_port` only, with /stats."""
    path.write_text(
        "packetshipper.interfaces.device: lo\n"
        "packetshipper.flows.enabled: false\n"
        f"packetshipper.protocols:\n  - type: dns\n    ports: [{dns_port}]\n"
        "http.enabled: true\nhttp.port: 0\n" + extra
    )
    return path


class ShipperProcess:
    """`packetshipper run -e ...` in the background; its stderr log lines are collected as they come."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(["packetshipper", "run", "-e", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20.0, count: int = 1) -> list[str]:
        """The first `count` log lines matching `pattern`, waiting for them at most `timeout` seconds."""
        regex = re.compile(pattern)
        limit = time.monotonic() + timeout
        while True:
            found = [line for line in list(self.lines) if regex.search(line)]
            if len(found) >= count:
                return found[:count]
            if time.monotonic() > limit or self.proc.poll() is not None:
                time.sleep(0.2)  # the last lines of a process that ended
                found = [line for line in list(self.lines) if regex.search(line)]
                if len(found) >= count:
                    return found[:count]
                raise AssertionError(f"no {count} log lines matching {pattern!r}; log:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def wait_until_capturing(self) -> None:
        self.wait_for(r"reading interface lo")
        self.wait_for(r"monitoring endpoint on http://")
        time.sleep(0.3)  # libpcap's handle is open; let it settle before traffic starts

    def stats(self) -> dict[str, Any]:
        url = re.search(r"monitoring endpoint on (http://\S+)", self.wait_for(r"monitoring endpoint on")[0])
        assert url is not None
        with urllib.request.urlopen(url.group(1) + "/stats", timeout=5) as answer:
            stats: dict[str, Any] = json.load(answer)
            return stats

    def wait_for_events(self, count: int, timeout: float = 10.0) -> None:
        """Until the capture has published `count` events (its own /stats)."""
        limit = time.monotonic() + timeout
        while self.stats()["capture"]["events"] < count:
            assert time.monotonic() < limit, f"fewer than {count} events published: {self.stats()['capture']}"
            time.sleep(0.1)

    def signal_and_time(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> float:
        """Seconds from sending `signum` until the process has exited."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("still running; log:\n" + "\n".join(self.lines)) from None
        return time.monotonic() - started

    def wait_exit(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("still running; log:\n" + "\n".join(self.lines)) from None
        self._reader.join(5)
        return code

    def last_line(self) -> str:
        """The last log line (timestamped; a summary printed after the log is not one)."""
        self._reader.join(5)
        return [line for line in self.lines if _LOG_LINE.match(line)][-1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def dns_events(directory: Path) -> list[dict[str, Any]]:
    """The DNS events in the file output's files under `directory`, oldest file first."""
    events = []
    for path in sorted(directory.glob("packetshipper*"), key=lambda p: os.stat(p).st_mtime):
        for line in path.read_text().split("\n")[:-1]:  # a line still being written has no newline yet
            if line.strip():
                event = json.loads(line)
                if event.get("type") == "dns":
                    events.append(event)
    return events
