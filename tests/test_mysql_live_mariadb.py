"""A real MariaDB server (Debian's mariadb-server), started by the test on loopback, driven by the real
`mariadb` and `mariadb-admin` clients while tcpdump records `lo`; the capture then goes through the
module. Expected values come from the clients' own output and from tshark, never from the module.

Covered: a failed login, a syntax error, a 200-row result set spread over many TCP segments, affected
rows of an INSERT and a DELETE, COM_PING, COM_INIT_DB, COM_QUIT, and a connection that switches to TLS.
Last, packetshipper itself captures `lo` live (the CLI, stopped by SIGTERM) while the clients run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import run_pcap
from servers.certs import make_certificates

TOOLS = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin", "tcpdump", "tshark", "openssl")
_missing = [tool for tool in TOOLS if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(bool(_missing), reason=f"not installed: {', '.join(_missing)}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="tcpdump on lo needs root"),
]

_TOLD = re.compile(r"mysql: tcp .*; (OK|Error)\b")  # the -d mysql line of a published transaction
ROWS = 200
ROW_TEXT = 1000  # bytes of the note column: 200 rows make ~200 KB, many loopback segments


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    base: Path

    def client(self, *args: str, user: str = "bob", password: str = "pw", tls: bool = False
               ) -> subprocess.CompletedProcess[str]:
        # The client turns TLS on by itself when the server offers it: only the TLS session asks for it.
        mode = ["--ssl", "--ssl-verify-server-cert=0"] if tls else ["--skip-ssl"]
        cmd = [_tool("mariadb"), "--no-defaults", *mode, "-h127.0.0.1", f"-P{self.port}", f"-u{user}"]
        if password:
            cmd.append(f"-p{password}")
        return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("mariadb")
    certs = make_certificates(base)
    data = base / "data"
    subprocess.run([_tool("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=180)
    port = _free_port()
    process = subprocess.Popen(
        [_tool("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={base / 'sock'}", f"--port={port}",
         "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve", "--skip-log-bin",
         f"--pid-file={base / 'pid'}", f"--log-error={base / 'error.log'}", "--innodb-buffer-pool-size=16M",
         f"--ssl-ca={certs.ca}", f"--ssl-cert={certs.cert}", f"--ssl-key={certs.key}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = Server(port, base)
    try:
        deadline = time.monotonic() + 60
        while running.client("-e", "SELECT 1", user="root", password="").returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (base / "error.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mariadbd did not start:\n{log}")
            time.sleep(0.2)
        setup = running.client("-e", f"""
            CREATE DATABASE shop;
            CREATE USER 'bob'@'%' IDENTIFIED BY 'pw';
            GRANT ALL ON shop.* TO 'bob'@'%';
            CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), note TEXT);
            USE shop;
            INSERT INTO shop.items SELECT seq, CONCAT('item-', seq), REPEAT('x', {ROW_TEXT}) FROM seq_1_to_{ROWS};
            """, user="root", password="")
        assert setup.returncode == 0, setup.stderr
        yield running
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass(frozen=True)
class Recording:
    pcap: Path
    outputs: dict[str, subprocess.CompletedProcess[str]]
    events: list[dict[str, Any]]
    stats: dict[str, Any]


def _wait_until_written(pcap: Path, settle: float = 0.5, limit: float = 20.0) -> None:
    """tcpdump -U writes each packet as it handles it: wait until the file stops growing (a loaded
    machine may run tcpdump late, and SIGINT drops what it has not handled yet)."""
    deadline = time.monotonic() + limit
    size = -1
    while time.monotonic() < deadline:
        now = pcap.stat().st_size if pcap.exists() else 0
        if now == size:
            return
        size = now
        time.sleep(settle)


@pytest.fixture(scope="module")
def recording(server: Server) -> Recording:
    pcap = server.base / "session.pcap"
    tcpdump = subprocess.Popen([_tool("tcpdump"), "-i", "lo", "--immediate-mode", "-U", "-B", "65536", "-s", "0", "-w", str(pcap),
                                f"tcp port {server.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert tcpdump.stderr is not None
        assert "listening on" in tcpdump.stderr.readline()
        outputs = {
            "failed_login": server.client("-e", "SELECT 1", password="wrong"),
            "syntax_error": server.client("shop", "-e", "SELEC 1"),
            "rows": server.client("shop", "-N", "-B", "-e", "SELECT * FROM items"),
            "dml": server.client("-vvv", "-e", "USE shop; INSERT INTO items VALUES (1000, 'a', 'b'); "
                                               "DELETE FROM items WHERE id >= 999"),
            "ping": subprocess.run([_tool("mariadb-admin"), "--no-defaults", "--skip-ssl", "-h127.0.0.1", f"-P{server.port}",
                                    "-ubob", "-ppw", "ping"], capture_output=True, text=True, timeout=60),
            "tls": server.client("-N", "-e", "SELECT 'over tls'", tls=True),
        }
        _wait_until_written(pcap)
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.communicate(timeout=30)
    run = run_pcap(str(pcap), {"packetshipper": {"flows": {"enabled": False}, "protocols": [
        {"type": "mysql", "ports": [server.port], "commands": ["*"], "send_response": True}]}})
    return Recording(pcap, outputs, run.events, run.stats["protocols"]["modules"].get("mysql", {}))


def _client_error(stderr: str) -> tuple[int, str]:
    """`ERROR 1064 (42000) at line 1: text` as the client prints the server's ERR packet."""
    match = re.search(r"ERROR (\d+) \((\w{5})\)(?: at line \d+)?: (.*)", stderr)
    assert match, stderr
    return int(match[1]), f"{match[2]}: {match[3]}"


def _by_connection(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    sessions: dict[int, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda e: e["event"]["start"]):
        sessions.setdefault(event["client"]["port"], []).append(event)
    return list(sessions.values())


def test_one_event_per_command_in_each_client_session(recording: Recording) -> None:
    out = recording.outputs
    assert out["failed_login"].returncode != 0 and out["syntax_error"].returncode != 0
    assert out["rows"].returncode == out["dml"].returncode == out["ping"].returncode == 0
    commands = [[(e["method"], e["status"]) for e in session] for session in _by_connection(recording.events)]
    assert commands == [
        [("LOGIN", "Error")],
        [("LOGIN", "OK"), ("SELEC", "Error"), ("QUIT", "OK")],
        [("LOGIN", "OK"), ("SELECT", "OK"), ("QUIT", "OK")],
        [("LOGIN", "OK"), ("SELECT", "OK"), ("USE", "OK"), ("INSERT", "OK"), ("DELETE", "OK"), ("QUIT", "OK")],
        [("LOGIN", "OK"), ("PING", "OK"), ("QUIT", "OK")],
    ]  # the TLS session gives none: it is counted


def test_a_failed_login_has_the_servers_error(recording: Recording) -> None:
    code, message = _client_error(recording.outputs["failed_login"].stderr)
    event = _by_connection(recording.events)[0][0]
    assert (event["mysql"]["error_code"], event["mysql"]["error_message"]) == (code, message)
    assert code == 1045 and event["user"]["name"] == "bob"
    assert recording.stats["failed_logins"] == 1


def test_a_syntax_error_has_the_servers_code_and_message(recording: Recording) -> None:
    code, message = _client_error(recording.outputs["syntax_error"].stderr)
    event = _by_connection(recording.events)[1][1]
    assert event["query"] == "SELEC 1"
    assert (event["mysql"]["error_code"], event["mysql"]["error_message"]) == (code, message)


def _tshark(pcap: Path, *args: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", str(pcap), *args], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_200_rows_over_many_segments(recording: Recording, server: Server) -> None:
    printed = recording.outputs["rows"].stdout.splitlines()
    assert len(printed) == ROWS
    event = _by_connection(recording.events)[2][1]
    assert event["mysql"]["num_rows"] == len(printed)
    assert event["mysql"]["num_fields"] == len(printed[0].split("\t"))
    assert event["path"] == "shop.items"
    assert event["response"].split("\n")[1] == printed[0].replace("\t", ",")  # first kept row as the client shows it
    # The answer's TCP segments, as tshark sees them: from the query's segment to the client's next one.
    port = event["client"]["port"]
    frames = _tshark(recording.pcap, "-d", f"tcp.port=={server.port},mysql", "-Y", f"tcp.port == {port} and tcp.len > 0",
                     "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
                     "-e", "tcp.srcport", "-e", "tcp.len", "-e", "mysql.query")
    start = next(i for i, f in enumerate(frames) if f[2] == "SELECT * FROM items")
    answer = []
    for src, length, _ in frames[start + 1:]:
        if int(src) != server.port:
            break
        answer.append(int(length))
    assert len(answer) > 3
    assert event["destination"]["bytes"] == sum(answer)


def test_affected_rows_match_what_the_server_reported(recording: Recording) -> None:
    reported = [int(n) for n in re.findall(r"Query OK, (\d+) rows? affected", recording.outputs["dml"].stdout)]
    session = _by_connection(recording.events)[3]
    assert [e["mysql"]["affected_rows"] for e in session if e["method"] in ("INSERT", "DELETE")] == reported
    assert reported == [1, 1]


def test_the_tls_connection_is_counted_and_not_parsed(recording: Recording) -> None:
    assert recording.outputs["tls"].stdout.strip() == "over tls", recording.outputs["tls"].stderr
    assert recording.stats["tls_connections"] == 1
    assert not any(e["query"] == "SELECT 'over tls'" for e in recording.events)


def test_packetshipper_itself_capturing_lo_sees_the_same(server: Server, tmp_path: Path) -> None:
    (tmp_path / "packetshipper.yml").write_text(
        "packetshipper.flows.enabled: false\n"
        f"packetshipper.protocols:\n  - type: mysql\n    ports: [{server.port}]\n    commands: ['*']\n"
        f"output.file:\n  path: {tmp_path}\n  filename: live\n")
    proc = subprocess.Popen([sys.executable, "-m", "packetshipper.cli", "-i", "lo", "-e", "-d", "mysql"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the capture to be open
            lines.append(line)
            if "reading interface lo" in line:
                break
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
        reader.start()
        time.sleep(0.3)
        failed = server.client("-e", "SELECT 1", password="wrong")
        rows = server.client("shop", "-N", "-B", "-e", "SELECT * FROM items WHERE id <= 150")
        deadline = time.monotonic() + 20  # a loaded machine may capture late: wait for the four transactions
        while time.monotonic() < deadline and sum(bool(_TOLD.search(line)) for line in list(lines)) < 4:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines)
    events = [json.loads(line) for line in (tmp_path / "live").read_text().splitlines()]
    assert [(e["method"], e["status"]) for e in events] == [
        ("LOGIN", "Error"), ("LOGIN", "OK"), ("SELECT", "OK"), ("QUIT", "OK")]
    assert events[0]["mysql"]["error_code"] == _client_error(failed.stderr)[0]
    assert events[2]["mysql"]["num_rows"] == len(rows.stdout.splitlines()) == 150
