"""A real PostgreSQL server (Debian's postgresql 15), started by the test on loopback, driven by psql and
by a small client speaking the extended query protocol; the traffic is recorded with tcpdump and read back.

What the events must say comes from the server's side: the statements we sent, the rows we made it
create, and the SQLSTATEs PostgreSQL documents (28P01 invalid_password, 42601 syntax_error, 22012
division_by_zero, 42P01 undefined_table). Needs root (capture on lo; the server runs as `postgres`).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pgsql_wire as w
import pytest
from packetshipper.testing import run_pcap
from servers.certs import OPENSSL, make_certificates

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "s3cret"
ROWS = 200
WIDE = 1000  # bytes per row's text: the 200-row result crosses several loopback segments

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(not (BIN / "postgres").exists(), reason="PostgreSQL 15 server is not installed"),
    pytest.mark.skipif(shutil.which("tcpdump") is None or shutil.which("psql") is None,
                       reason="tcpdump and psql are needed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: capture on lo, server run as postgres"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = base, port
        self.user = pwd.getpwnam("postgres")
        self.proc: subprocess.Popen[bytes] | None = None

    def _as_postgres(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(list(args), user=self.user.pw_uid, group=self.user.pw_gid, check=True,
                              capture_output=True, timeout=60, cwd=self.base, **kwargs)

    def start(self) -> None:
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.base / "data"), "-U", "postgres",
                          "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256")
        # The first matching line wins: `tester` (the extended-protocol client) needs no password.
        hba = self.base / "data" / "pg_hba.conf"
        hba.write_text("host all tester 127.0.0.1/32 trust\n" + hba.read_text())
        self.proc = subprocess.Popen(
            [str(BIN / "postgres"), "-D", str(self.base / "data"), "-k", str(self.base), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],  # ssl is off until enable_ssl
            user=self.user.pw_uid, group=self.user.pw_gid, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.base)
        deadline = time.monotonic() + 30
        while subprocess.run([str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.1)
        self.psql("CREATE ROLE tester LOGIN SUPERUSER")

    def psql(self, *commands: str, user: str = "postgres", password: str = PASSWORD, stdin: bytes = b"",
             sslmode: str = "prefer") -> subprocess.CompletedProcess[bytes]:
        args = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", "postgres"]
        for command in commands:
            args += ["-c", command]
        env = {**os.environ, "PGPASSWORD": password, "PGAPPNAME": "pgsql-live-test", "PGSSLMODE": sslmode}
        return subprocess.run(args, input=stdin, capture_output=True, timeout=60, env=env)

    def enable_ssl(self) -> bool:
        """Turn SSL on with a throw-away certificate (a reload: the server keeps running); True once on."""
        if OPENSSL is None:
            return False
        (self.base / "certs").mkdir()
        certs = make_certificates(self.base / "certs")
        for path in (certs.cert, certs.key):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
            path.chmod(0o600)
        local = ["psql", "-X", "-q", "-t", "-A", "-h", str(self.base), "-p", str(self.port), "-U", "postgres"]
        for setting in (f"ssl_cert_file = '{certs.cert}'", f"ssl_key_file = '{certs.key}'", "ssl = on"):
            subprocess.run([*local, "-c", f"ALTER SYSTEM SET {setting}"], check=True, capture_output=True)
        subprocess.run([*local, "-c", "SELECT pg_reload_conf()"], check=True, capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the Unix socket is not on lo: none of this is captured
            if subprocess.run([*local, "-c", "SHOW ssl"], capture_output=True, text=True).stdout.strip() == "on":
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class ExtendedClient:
    """Speaks the extended query protocol itself (psql 15 has no \\bind) as the trusted user `tester`."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(w.startup(user="tester", database="postgres", application_name="extended-client"))
        self._until_ready()

    def _until_ready(self) -> list[bytes]:
        types: list[bytes] = []
        buf = b""
        while True:
            while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed")
                buf += chunk
            size = 1 + struct.unpack("!I", buf[1:5])[0]
            types.append(buf[:1])
            if buf[:1] == b"Z":
                return types
            buf = buf[size:]

    def run(self, *messages: bytes) -> list[bytes]:
        self.sock.sendall(b"".join(messages))
        return self._until_ready()

    def close(self) -> None:
        self.sock.sendall(w.terminate())
        self.sock.close()


def _wait_until_written(pcap: Path) -> None:
    """tcpdump -U writes each packet as it handles it: wait until the file stops growing (at most 15 s),
    so that stopping it loses nothing still queued in its buffer on a busy machine."""
    deadline = time.monotonic() + 15
    last, stable = -1, 0
    while stable < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
        size = pcap.stat().st_size if pcap.exists() else 0
        stable = stable + 1 if size == last else 0
        last = size


@pytest.fixture(scope="module")
def capture() -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="pgsql-live-"))
    user = pwd.getpwnam("postgres")
    os.chown(base, user.pw_uid, user.pw_gid)
    port = _free_port()
    server = Server(base, port)
    pcap = base / "pgsql.pcap"
    tcpdump: subprocess.Popen[bytes] | None = None
    tcpdump_summary = ""
    try:
        server.start()
        tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B", "65536", "-s", "0", "-w", str(pcap), f"tcp port {port}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()  # "listening on lo ...": the capture is open
        results: dict[str, Any] = {}
        results["bad_login"] = server.psql("SELECT 1", password="wrong")
        results["session"] = server.psql(
            "CREATE TABLE t (id int, name text)",
            f"INSERT INTO t SELECT g, repeat('x', {WIDE}) FROM generate_series(1, {ROWS}) g",
            "SELECT * FROM t ORDER BY id",
            "SELEC 1",
            "SELECT 1/0",
            "SELECT 1; SELECT 2, 3",
            "DROP TABLE IF EXISTS not_there",
        )
        results["copy"] = server.psql("CREATE TABLE c (a int, b text)", "COPY c FROM STDIN", "COPY c TO STDOUT",
                                      stdin=b"1\tone\n2\ttwo\n3\tthree\n\\.\n")
        client = ExtendedClient(port)
        results["extended"] = [
            client.run(w.parse("SELECT $1::int + 1"), w.bind([b"41"]), w.describe("P"), w.execute(), w.sync()),
            client.run(w.parse("SELECT * FROM missing_table"), w.bind(), w.describe("P"), w.execute(), w.sync()),
            client.run(w.parse("SELECT id FROM t WHERE id <= $1", name="s1"), w.sync()),
            client.run(w.bind([b"3"], statement="s1"), w.describe("P"), w.execute(), w.sync()),
            client.run(w.bind([b"5"], statement="s1"), w.describe("P"), w.execute(), w.sync()),
        ]
        client.close()
        results["tls"] = server.psql("SELECT 42", sslmode="require") if server.enable_ssl() else None
        _wait_until_written(pcap)
    finally:
        if tcpdump is not None:
            tcpdump.send_signal(signal.SIGINT)
            tcpdump.wait(10)
            assert tcpdump.stderr is not None
            tcpdump_summary = tcpdump.stderr.read().decode(errors="replace")
        server.stop()
    # A busy machine can make tcpdump fall behind: then the events cannot be complete, and that is not ours.
    assert re.search(r"^0 packets dropped by kernel", tcpdump_summary, re.M), tcpdump_summary
    config = {"packetshipper": {"protocols": [{"type": "pgsql", "ports": [port], "send_response": True,
                                               "max_rows": 3}], "flows": {"enabled": False}}}
    run = run_pcap(str(pcap), config)
    yield {"port": port, "events": [e for e in run.events if e["type"] == "pgsql"], "stats": run.stats,
           "results": results, "pcap": pcap, "base": base}
    shutil.rmtree(base, ignore_errors=True)


def _by_query(events: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("query") == query]


def test_clients_saw_what_the_test_expects(capture: dict[str, Any]) -> None:
    results = capture["results"]
    assert results["bad_login"].returncode != 0 and b"password authentication failed" in results["bad_login"].stderr
    assert results["session"].stdout.count(b"x" * WIDE) == ROWS
    assert results["copy"].stdout == b"1\tone\n2\ttwo\n3\tthree\n"
    assert results["extended"][1][0] == b"E"  # the Parse failed


def test_failed_login_is_one_error_event_with_its_sqlstate(capture: dict[str, Any]) -> None:
    (login,) = [e for e in capture["events"] if e.get("method") == "LOGIN"]
    assert login["status"] == "Error"
    assert login["pgsql"]["error_code"] == "28P01"
    assert login["pgsql"]["error_severity"] == "FATAL"
    assert login["user"]["name"] == "postgres"
    assert login["pgsql"]["application_name"] == "pgsql-live-test"


def test_one_event_per_psql_command_with_verb_status_and_counts(capture: dict[str, Any]) -> None:
    events = [e for e in capture["events"] if e.get("pgsql", {}).get("application_name") == "pgsql-live-test"
              and e.get("method") != "LOGIN"]
    got = [(e["method"], e["status"], e["pgsql"].get("error_code"), e["pgsql"]["num_rows"]) for e in events]
    assert got[:9] == [
        ("CREATE", "OK", None, 0),
        ("INSERT", "OK", None, 0),
        ("SELECT", "OK", None, ROWS),
        ("SELEC", "Error", "42601", 0),
        ("SELECT", "Error", "22012", 0),
        ("SELECT", "OK", None, 1),
        ("SELECT", "OK", None, 1),
        ("DROP", "OK", None, 0),
        ("CREATE", "OK", None, 0),
    ]
    assert events[1]["pgsql"]["command_tag"] == f"INSERT 0 {ROWS}"
    assert [e["query"] for e in events[5:7]] == ["SELECT 1", "SELECT 2, 3"]
    assert [e["pgsql"]["num_fields"] for e in events[5:7]] == [1, 2]
    assert all(e["user"]["name"] == "postgres" and e["pgsql"]["database"] == "postgres" for e in events)


def test_the_wide_result_crossed_many_segments_and_is_kept_within_max_rows(capture: dict[str, Any]) -> None:
    (select,) = _by_query(capture["events"], "SELECT * FROM t ORDER BY id")
    assert select["destination"]["bytes"] > ROWS * WIDE
    lines = select["response"].split("\n")
    assert lines[0] == "id,name" and len(lines) == 1 + 3 + 1  # header, max_rows 3, final newline
    assert lines[1] == "1," + "x" * WIDE
    segments = subprocess.run(["tcpdump", "-r", str(capture["pcap"]), "-nn", f"tcp src port {capture['port']}"
                               " and greater 1000"], capture_output=True, text=True).stdout.count("\n")
    assert segments >= 3


def test_notice_is_a_note_on_its_statement(capture: dict[str, Any]) -> None:
    (drop,) = _by_query(capture["events"], "DROP TABLE IF EXISTS not_there")
    assert drop["status"] == "OK"
    assert drop["notes"] == ['NOTICE 00000: table "not_there" does not exist, skipping']


def test_copy_in_and_out_are_one_transaction_each(capture: dict[str, Any]) -> None:
    (copy_in,) = _by_query(capture["events"], "COPY c FROM STDIN")
    (copy_out,) = _by_query(capture["events"], "COPY c TO STDOUT")
    data = b"1\tone\n2\ttwo\n3\tthree\n"
    assert copy_in["pgsql"]["command_tag"] == "COPY 3" and copy_out["pgsql"]["command_tag"] == "COPY 3"
    # The copy data travels as CopyData messages (5 bytes of header each) plus CopyDone.
    assert copy_in["source"]["bytes"] >= len(data) + 5 + 5
    assert copy_out["destination"]["bytes"] >= len(data) + 5 + 5


def test_extended_query_protocol_events(capture: dict[str, Any]) -> None:
    events = [e for e in capture["events"] if e.get("pgsql", {}).get("application_name") == "extended-client"]
    got = [(e["query"], e["status"], e["pgsql"].get("error_code"), e["pgsql"]["num_rows"]) for e in events]
    assert got == [
        ("SELECT $1::int + 1", "OK", None, 1),
        ("SELECT * FROM missing_table", "Error", "42P01", 0),
        ("SELECT id FROM t WHERE id <= $1", "OK", None, 3),
        ("SELECT id FROM t WHERE id <= $1", "OK", None, 5),
    ]
    assert events[0]["response"] == "?column?\n42\n"
    assert all(e["user"]["name"] == "tester" and e["method"] == "SELECT" for e in events)


def test_nothing_unmatched_and_no_protocol_errors(capture: dict[str, Any]) -> None:
    stats = capture["stats"]
    text = repr(stats)
    assert "'protocol_errors': 0" in text and "'bugs': 0" in text, stats
    assert all(e.get("error", {}).get("message") is None for e in capture["events"])
    modules = stats["protocols"]["modules"]["pgsql"]
    assert modules["logins"] == 3 and modules["failed_logins"] == 1 and modules["prepared_without_execute"] == 1
    assert "statements_without_result" not in modules


def test_a_connection_that_switches_to_tls_is_counted_and_not_parsed(capture: dict[str, Any]) -> None:
    if OPENSSL is None:
        pytest.skip("openssl is not available to make a certificate")
    tls = capture["results"]["tls"]
    assert tls is not None, "the server did not turn SSL on"
    assert tls.returncode == 0 and b"42" in tls.stdout
    modules = capture["stats"]["protocols"]["modules"]["pgsql"]
    assert modules["encrypted_connections"] == 1
    assert not [e for e in capture["events"] if e.get("query") == "SELECT 42"]
    assert modules["protocol_errors"] == 0  # the TLS records were never read as PostgreSQL messages
