"""`ignore_outgoing` on live captures: in a network namespace this test creates (this host: 10.213.9.1 on
one end of a veth pair, another host: 10.213.9.2 on the other end in its own namespace), and on lo.

Which requests were made from where is the test's own knowledge; the HTTP servers' access logs
confirm each request arrived. Needs root and `ip`; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUBNET = "10.213.9"
HERE_IP, OTHER_IP, ADDED_IP = f"{SUBNET}.1", f"{SUBNET}.2", f"{SUBNET}.3"
PORT = 8000


def _cannot_run() -> str | None:
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    if os.geteuid() != 0:
        return "needs root for network namespaces and capture"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]

_GET = (f"import http.client,sys; c=http.client.HTTPConnection(sys.argv[1], {PORT}, timeout=5, source_address="
        "(sys.argv[3], 0) if len(sys.argv) > 3 else None); c.request('GET', sys.argv[2]); "
        "r=c.getresponse(); r.read(); print(r.status)")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _get(ns: str, host: str, path: str, source: str | None = None) -> None:
    args = ["ip", "netns", "exec", ns, sys.executable, "-c", _GET, host, path, *([source] if source else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "404", result.stderr  # the servers serve an empty directory


@pytest.fixture()
def hosts(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    tag = f"{os.getpid() % 100000}"
    here, other = f"pks-ioh-{tag}", f"pks-ioo-{tag}"
    here_if, other_if = f"pks{tag}h", f"pks{tag}o"
    servers: list[subprocess.Popen[str]] = []
    try:
        for ns in (here, other):
            _ip("netns", "add", ns)
        _ip("link", "add", here_if, "type", "veth", "peer", "name", other_if)
        _ip("link", "set", here_if, "netns", here)
        _ip("link", "set", other_if, "netns", other)
        _ip("-n", here, "addr", "add", f"{HERE_IP}/24", "dev", here_if)
        _ip("-n", other, "addr", "add", f"{OTHER_IP}/24", "dev", other_if)
        for ns, interface in ((here, here_if), (other, other_if)):
            _ip("-n", ns, "link", "set", interface, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        empty = tmp_path / "www"
        empty.mkdir()
        for ns, address in ((here, HERE_IP), (other, OTHER_IP)):
            servers.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "http.server",
                                             "--bind", address, "-d", str(empty), str(PORT)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True))
        deadline = time.monotonic() + 10
        for ns, address in ((here, HERE_IP), (other, OTHER_IP)):
            probe = [sys.executable, "-c", f"import socket; socket.create_connection(('{address}', {PORT}), 1)"]
            while subprocess.run(["ip", "netns", "exec", ns, *probe], capture_output=True).returncode != 0:
                assert time.monotonic() < deadline, "the HTTP servers did not start"
                time.sleep(0.1)
        yield here, other, here_if
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        for ns in (here, other):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def _start(args: list[str], cwd: Path, waits_for: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd)
    head: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        head.append(line)
        if waits_for in line:
            break
    time.sleep(0.3)  # libpcap settles
    return proc, head


def _stop(proc: subprocess.Popen[str], head: list[str], out: Path) -> tuple[list[dict[str, Any]], str]:
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, tail = proc.communicate(timeout=20)
    stderr = "".join(head) + tail
    assert proc.returncode == 0, stderr
    return [json.loads(line) for line in out.read_text().splitlines()], stderr


def _capture_args(tmp_path: Path, device: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "packetshipper.cli", "-i", device, "-e",
            "-E", "packetshipper.protocols=[{type: http, ports: [8000]}]",
            "-E", f"output.file.path={tmp_path}", "-E", "output.file.filename=events", *extra]


def test_requests_this_host_makes_are_not_reported_and_new_addresses_are_read(
        tmp_path: Path, hosts: tuple[str, str, str]) -> None:
    here, other, here_if = hosts
    args = ["ip", "netns", "exec", here, *_capture_args(tmp_path, here_if, "-E", "packetshipper.ignore_outgoing=true",
                                                        "-E", "packetshipper.local_addresses_refresh=1s")]
    proc, head = _start(args, tmp_path, "reading")
    try:
        _get(other, HERE_IP, "/in")  # the other host asks this one: reported
        _get(here, OTHER_IP, "/out")  # this host asks the other: not reported
        _ip("-n", here, "addr", "add", f"{ADDED_IP}/24", "dev", here_if)  # an address added while running
        time.sleep(1.5)  # past local_addresses_refresh
        _get(here, OTHER_IP, "/from-new-address", ADDED_IP)
        events, stderr = _stop(proc, head, tmp_path / "events")
    finally:
        if proc.poll() is None:
            proc.kill()
    http = [(e["url"]["path"], e["client"]["ip"]) for e in events if e["type"] == "http"]
    assert http == [("/in", OTHER_IP)], stderr
    flows = sorted((e["source"]["ip"], e["destination"]["ip"]) for e in events if e["type"] == "flow"
                   and e["flow"]["final"] and e.get("destination", {}).get("port") == PORT)  # not periodic reports
    assert flows == sorted([(OTHER_IP, HERE_IP), (HERE_IP, OTHER_IP), (ADDED_IP, OTHER_IP)])  # flows all kept


def test_without_the_setting_both_directions_are_reported(tmp_path: Path, hosts: tuple[str, str, str]) -> None:
    here, other, here_if = hosts
    proc, head = _start(["ip", "netns", "exec", here, *_capture_args(tmp_path, here_if)], tmp_path, "reading")
    try:
        _get(other, HERE_IP, "/in")
        _get(here, OTHER_IP, "/out")
        events, stderr = _stop(proc, head, tmp_path / "events")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(e["url"]["path"] for e in events if e["type"] == "http") == ["/in", "/out"], stderr


def test_on_lo_traffic_to_this_host_is_incoming_and_kept(tmp_path: Path) -> None:
    # Packetbeat tests the destination first: loopback to loopback is "ingress", never ignored.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1000)
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    args = _capture_args(tmp_path, "lo", "-E", "packetshipper.ignore_outgoing=true",
                         "-E", f"packetshipper.protocols=[{{type: http, ports: [{port}]}}]",
                         "--bpf", f"tcp port {port}")
    proc, head = _start(args, tmp_path, "reading")
    try:
        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET /lo HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1000)
        thread.join(5)
        listener.close()
        events, stderr = _stop(proc, head, tmp_path / "events")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [e["url"]["path"] for e in events if e["type"] == "http"] == ["/lo"], stderr
    assert "ignore_outgoing: transactions from this host's" in stderr
