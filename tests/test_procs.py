"""Local processes of sockets (`packetshipper.procs`), found through the real /proc of this machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from packetshipper.procs import PROCS_SETTINGS, ProcessWatcher
from packetshipper.settings import validate
from service_process import CAPTURE_PROBLEM, ShipperProcess

SETTINGS = validate(PROCS_SETTINGS, {"enabled": True, "refresh_interval": 0})


def test_a_listening_socket_of_this_process_is_found_with_its_details() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        found = ProcessWatcher(SETTINGS).lookup(6, socket.inet_aton("127.0.0.1"), port)
    assert found is not None
    assert found.pid == os.getpid() and found.ppid == os.getppid()
    assert found.executable == os.readlink("/proc/self/exe")
    assert found.working_directory == os.getcwd()
    assert found.args == tuple(Path("/proc/self/cmdline").read_bytes().decode().split("\0")[:-1])


def test_a_wildcard_bound_udp_socket_is_found_for_any_local_address() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::", 0))
        port = sock.getsockname()[1]
        found = ProcessWatcher(SETTINGS).lookup(17, socket.inet_pton(socket.AF_INET6, "::1"), port)
    assert found is not None and found.pid == os.getpid()


def test_no_socket_no_process_and_misses_are_counted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, then closed: nobody holds it
    watcher = ProcessWatcher(SETTINGS)
    assert watcher.lookup(6, socket.inet_aton("127.0.0.1"), port) is None
    assert watcher.stats()["misses"] == 1


def test_tables_are_bounded_and_count_what_did_not_fit() -> None:
    watcher = ProcessWatcher(validate(PROCS_SETTINGS, {"enabled": True, "max_sockets": 16}))
    with socket.create_server(("127.0.0.1", 0)):
        watcher.lookup(6, socket.inet_aton("127.0.0.1"), 1)
    stats = watcher.stats()
    assert stats["sockets"] <= 16


@pytest.mark.live
@pytest.mark.skipif(CAPTURE_PROBLEM is not None, reason=f"cannot capture on lo: {CAPTURE_PROBLEM}")
def test_a_live_flow_carries_its_client_process_and_its_server_process(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    out = tmp_path / "out"
    config = tmp_path / "procs.yml"
    config.write_text(f"packetshipper.interfaces.device: lo\npacketshipper.interfaces.bpf_filter: tcp port {port}\n"
                      "packetshipper.flows.period: -1\npacketshipper.procs.enabled: true\n"
                      "packetshipper.protocols: []\npacketshipper.shutdown_timeout: 5s\n"
                      "http.enabled: true\nhttp.port: 0\n"
                      f"output.file:\n  path: {out}\n  filename: events\n")
    shipper = ShipperProcess("-c", str(config), cwd=tmp_path)
    try:
        shipper.wait_until_capturing()
        client_code = ("import os, socket, sys, time\n"
                       f"s = socket.create_connection(('127.0.0.1', {port}))\n"
                       "print(os.getpid(), flush=True)\ns.sendall(b'hello')\ntime.sleep(0.5)\ns.close()\n")
        client = subprocess.Popen([sys.executable, "-c", client_code], stdout=subprocess.PIPE, text=True)
        conn, _ = server.accept()
        conn.recv(10)
        assert client.stdout is not None
        client_pid = int(client.stdout.readline())
        client.wait(10)
        conn.close()
        shipper.wait_for_events(0)
        assert shipper.signal_and_time() < 10
    finally:
        shipper.kill()
        server.close()
    events = [json.loads(line) for f in sorted(out.glob("events*")) for line in f.read_text().splitlines()]
    flows = [e for e in events if e["type"] == "flow" and e.get("destination", {}).get("port") == port]
    assert flows, shipper.lines
    (flow,) = flows
    assert flow["source"]["process"]["pid"] == client_pid
    assert flow["source"]["process"]["executable"] == os.path.realpath(sys.executable)
    assert flow["source"]["process"]["args"][0] == sys.executable
    assert flow["destination"]["process"]["pid"] == os.getpid()
    assert flow["process"]["pid"] == client_pid
