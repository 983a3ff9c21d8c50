"""Two network namespaces joined by a delaying userspace relay (tap_relay.py): a link with a known delay
for live TCP tests, on kernels without the netem qdisc.

    with DelayedLink("t1", delay=0.05) as link:
        link.run("client", ["python3", "-c", "..."])

Everything it makes (namespaces, the relay process and its TAP devices) is removed on exit, also when
the body fails. Needs root; `DelayedLink.unavailable()` says why it cannot run, or None.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["DelayedLink", "RELAY", "PEERS"]

HERE = Path(__file__).resolve().parent
RELAY = HERE / "tap_relay.py"
PEERS = HERE / "peers.py"


class DelayedLink:
    CLIENT = "10.77.0.1"
    SERVER = "10.77.0.2"

    def __init__(self, tag: str, *, delay: float = 0.05, blackhole_ports: tuple[int, ...] = (),
                 lossy_ports: tuple[int, ...] = (), loss: float = 0.0) -> None:
        suffix = f"{tag}{os.getpid() % 100000}"
        self.namespaces = {"client": f"psc{suffix}", "server": f"pss{suffix}"}
        self.devices = {"client": f"tpc{suffix}"[:15], "server": f"tps{suffix}"[:15]}
        self.delay, self.blackhole_ports, self.lossy_ports, self.loss = delay, blackhole_ports, lossy_ports, loss
        self.relay: subprocess.Popen[str] | None = None
        self.relay_counts: dict[str, int] = {}

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return "needs root and iproute2"
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun"
        name = f"psprobe{os.getpid()}"
        probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        if probe.returncode:
            return f"cannot create a network namespace: {probe.stderr.strip()}"
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        return None

    def __enter__(self) -> DelayedLink:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _start(self) -> None:
        argv = [sys.executable, str(RELAY), self.devices["client"], self.devices["server"], "--delay", str(self.delay),
                "--loss", str(self.loss)]
        for port in self.blackhole_ports:
            argv += ["--blackhole-port", str(port)]
        for port in self.lossy_ports:
            argv += ["--lossy-port", str(port)]
        self.relay = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.relay.stdout is not None
        line = self.relay.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the relay did not start: {line!r} {self.relay.stderr.read() if self.relay.stderr else ''}")
        for side, address in (("client", self.CLIENT), ("server", self.SERVER)):
            ns, device = self.namespaces[side], self.devices[side]
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
            subprocess.run(["ip", "link", "set", device, "netns", ns], check=True, capture_output=True)
            for command in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{address}/24", "dev", device],
                            ["ip", "link", "set", device, "up"]):
                self.run(side, command, check=True, capture_output=True)

    def close(self) -> None:
        relay, self.relay = self.relay, None
        if relay is not None:
            if relay.poll() is None:
                relay.send_signal(signal.SIGTERM)
            try:
                out, _ = relay.communicate(timeout=5)
                last = out.strip().splitlines()[-1:] if out else []
                if last and last[0].startswith("{"):
                    self.relay_counts = json.loads(last[0])
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def command(self, side: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[side], *argv]

    def run(self, side: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(side, argv), **kwargs)

    def popen(self, side: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        kwargs.setdefault("text", True)
        return subprocess.Popen(self.command(side, argv), **kwargs)

    def tcp_retrans_segs(self, side: str) -> int:
        """The kernel's own count of retransmitted TCP segments in that namespace (RetransSegs)."""
        lines = [line.split() for line in self.run(side, ["cat", "/proc/net/snmp"], check=True,
                                                   capture_output=True).stdout.splitlines() if line.startswith("Tcp:")]
        names, values = lines[0], lines[1]
        return int(values[names.index("RetransSegs")])
