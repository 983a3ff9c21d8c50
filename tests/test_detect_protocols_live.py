"""Detection by content on real servers: Python's http.server on 8999, redis-server on 7777 and
`openssl s_server` on 9443, recorded on lo by tcpdump and replayed, with no module configured on those
ports. The detected events must be the very events the modules give with those ports configured,
and say what the test's clients sent and got (their own view: status codes, paths, Redis replies).

Needs tcpdump, redis-server and openssl, and permission to capture on lo; skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.testing import run_pcap

HTTP_PORT, REDIS_PORT, TLS_PORT = 8999, 7777, 9443


def _cannot_run() -> str | None:
    for tool in ("tcpdump", "redis-server", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (install.sh --dev installs it)"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    for port in (HTTP_PORT, REDIS_PORT, TLS_PORT):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"port {port} is already in use here"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"server for port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def _running(cmd: list[str], port: int, cwd: Path) -> Iterator[None]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def _recording(path: Path) -> Iterator[None]:
    bpf = f"tcp port {HTTP_PORT} or tcp port {REDIS_PORT} or tcp port {TLS_PORT}"
    proc = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-w", str(path), bpf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline().decode()  # "listening on lo, ...": capture has started
        assert "listening" in line, line
        yield
        time.sleep(0.5)  # the last segments reach tcpdump's buffer
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def _redis(commands: list[list[bytes]]) -> list[bytes]:
    """Sends each command as a RESP array on one connection; returns each reply's first line."""
    replies = []
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=5) as sock:
        reader = sock.makefile("rb")
        for command in commands:
            wire = b"*%d\r\n" % len(command) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in command)
            sock.sendall(wire)
            line = reader.readline()
            if line.startswith(b"$") and not line.startswith(b"$-1"):
                line += reader.readline()
            replies.append(line)
    return replies


def _tls_server(tmp: Path) -> list[str]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=detect.test"], check=True, capture_output=True)
    return ["openssl", "s_server", "-accept", str(TLS_PORT), "-key", str(key), "-cert", str(cert), "-quiet"]


def _https_handshakes() -> None:
    for version in ("-tls1_2", "-tls1_3"):
        subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{TLS_PORT}", "-servername", "detect.test",
                        version], input=b"", capture_output=True, timeout=20, check=False)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("detect-live")
    (tmp / "hello.txt").write_text("hello from http.server\n")
    path = tmp / "live.pcap"
    seen: dict[str, Any] = {}
    http_server = [sys.executable, "-m", "http.server", str(HTTP_PORT), "--bind", "127.0.0.1"]
    redis_server = ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no"]
    # The servers are up (and their ports checked) before the recording starts: it holds only the clients.
    with _running(http_server, HTTP_PORT, tmp), _running(redis_server, REDIS_PORT, tmp), \
            _running(_tls_server(tmp), TLS_PORT, tmp), _recording(path):
        statuses = []
        for target in ("/hello.txt", "/missing"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}{target}", timeout=5) as answer:
                    statuses.append(answer.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        seen["http"] = list(zip(("/hello.txt", "/missing"), statuses, strict=True))
        commands = [[b"SET", b"greeting", b"hi"], [b"GET", b"greeting"], [b"INCR", b"n"], [b"PING"]]
        seen["redis"] = list(zip(commands, _redis(commands), strict=True))
        _https_handshakes()
    seen["pcap"] = str(path)
    return seen


def _run(path: str, protocols: list[dict[str, Any]], detect: bool) -> Any:
    return run_pcap(path, {"packetshipper": {"flows": {"enabled": False}, "protocols": protocols,
                                             "detect_protocols": detect}})


def _in_one_order(events: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(event, sort_keys=True) for event in events)


def _by_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def test_http_redis_and_tls_on_unconfigured_ports_come_out_as_on_configured_ones(capture: dict[str, Any]) -> None:
    standard = [{"type": "http"}, {"type": "redis"}, {"type": "tls"}]
    detected = _run(capture["pcap"], standard, detect=True)
    configured = _run(capture["pcap"], [{"type": "http", "ports": [HTTP_PORT]}, {"type": "redis", "ports": [REDIS_PORT]},
                                        {"type": "tls", "ports": [TLS_PORT]}], detect=False)
    assert _run(capture["pcap"], standard, detect=False).events == []  # no module on those ports
    # the same events; detection holds a connection back until its first bytes name the protocol, so
    # connections that overlap in time may finish in another order
    assert _in_one_order(detected.events) == _in_one_order(configured.events)
    claimed = detected.stats["protocols"]["detect"]["claimed"]
    assert claimed == {"http": 2, "redis": 1, "tls": 2}


def test_the_detected_events_say_what_the_clients_saw(capture: dict[str, Any]) -> None:
    events = _run(capture["pcap"], [{"type": "http"}, {"type": "redis"}, {"type": "tls"}], detect=True).events
    http = _by_type(events, "http")
    assert sorted((e["url"]["path"], e["http"]["response"]["status_code"]) for e in http) == sorted(capture["http"])
    assert {e["server"]["port"] for e in http} == {HTTP_PORT}
    redis = _by_type(events, "redis")
    assert [e["method"] for e in redis] == [c[0].decode() for c, _ in capture["redis"]]
    assert [e["redis"]["return_value"] for e in redis] == [
        reply.split(b"\r\n")[-2 if reply.startswith(b"$") else 0].lstrip(b"+:").decode() for _, reply in capture["redis"]]
    tls = _by_type(events, "tls")
    assert sorted(e["tls"]["version"] for e in tls) == ["1.2", "1.3"]
    assert all(e["tls"]["client"]["server_name"] == "detect.test" and e["tls"]["established"] for e in tls)
