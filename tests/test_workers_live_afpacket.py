"""Live capture on lo with `interfaces.type: af_packet` and 2 workers (TPACKET_V3 rings in one fanout group),
next to a 1-worker af_packet capture of the very same traffic: DNS queries to an in-test responder and
HTTP requests to an in-test server, from many client ports (the kernel shares flows out by their hash).

The two runs must give the same flows and transactions; the counts must be what the test's own clients
did; /stats shows each worker's kernel counters; a killed worker is restarted and the capture goes on;
SIGTERM stops the main process and every worker.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socketserver
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from packetshipper.afpacket import AfPacketSource
from packetshipper.capture import CaptureError
from service_process import DnsResponder, ShipperProcess


def _capture_problem() -> str | None:
    try:
        AfPacketSource("lo", buffer_size_mb=1).close()
    except CaptureError as exc:
        return str(exc)
    return None


pytestmark = [pytest.mark.live, pytest.mark.slow,
              pytest.mark.skipif(_capture_problem() is not None, reason=str(_capture_problem()))]

QUERIES, REQUESTS = 24, 12


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks for)
        assert isinstance(self.server, _Web)
        self.server.peers.append(self.client_address)
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Web(socketserver.ThreadingTCPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Quiet)
        self.peers: list[tuple[str, int]] = []  # each request's client, as this server saw it


@pytest.fixture
def servers() -> Iterator[tuple[DnsResponder, _Web]]:
    responder = DnsResponder()
    web = _Web()
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        yield responder, web
    finally:
        web.shutdown()
        web.server_close()
        responder.close()


def _config(tmp_path: Path, name: str, dns_port: int, http_port: int, workers: int) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(
        "packetshipper.interfaces: {device: lo, type: af_packet, buffer_size_mb: 2,\n"
        f"  bpf_filter: 'udp port {dns_port} or tcp port {http_port}'}}\n"
        f"packetshipper.workers: {workers}\n"
        "packetshipper.flows: {period: -1}\n"
        f"packetshipper.protocols:\n  - {{type: dns, ports: [{dns_port}]}}\n  - {{type: http, ports: [{http_port}]}}\n"
        f"output.file: {{path: '{tmp_path / name}', filename: events}}\n"
        "http.enabled: true\nhttp.port: 0\n")
    return path


def _start(tmp_path: Path, name: str, servers: tuple[DnsResponder, _Web], workers: int
           ) -> ShipperProcess:
    responder, web = servers
    config = _config(tmp_path, name, responder.port, web.server_address[1], workers)
    return ShipperProcess("-c", str(config), cwd=tmp_path)


def _ready(process: ShipperProcess, workers: int) -> None:
    """Until every worker's ring is open: its kernel counters show in /stats (1 worker: once it logs)."""
    process.wait_for(r"reading interface lo")
    process.wait_for(r"monitoring endpoint on http://")
    if workers == 1:
        time.sleep(0.3)
        return
    limit = time.monotonic() + 30
    while True:
        per_worker = process.stats()["workers"]["per_worker"]
        if len(per_worker) == workers and all("kernel_received" in w and w["alive"] for w in per_worker.values()):
            return
        assert time.monotonic() < limit, f"workers not capturing: {per_worker}; log:\n" + "\n".join(process.lines)
        time.sleep(0.2)


def _traffic(servers: tuple[DnsResponder, _Web], tag: str) -> int:
    """Sends the queries and requests; returns the number of flows they made, by the servers' own view of
    their clients: a fresh UDP socket's port is drawn at random and repeats within 24 queries about once in
    a hundred runs, and a port used again within the flow timeout continues its flow (as in Packetbeat)."""
    responder, web = servers
    del responder.peers[:], web.peers[:]
    for i in range(QUERIES):
        responder.ask(0x100 + i, f"q{i}.{tag}.example")
    for i in range(REQUESTS):
        url = f"http://127.0.0.1:{web.server_address[1]}/{tag}/{i}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.read() == f"hello /{tag}/{i}".encode()
    time.sleep(0.5)  # a ring block is handed over within 50 ms of its first packet
    assert len(responder.peers) == QUERIES and len(web.peers) == REQUESTS
    return len(set(responder.peers)) + len(set(web.peers))


def _counters_once_sent(process: ShipperProcess) -> dict[str, Any]:
    """/stats' per-worker counters once every worker has reported the packets it took (each reports every
    second); 36 flows all hashed to one worker would fail here (odds 2**-35)."""
    limit = time.monotonic() + 10
    while True:
        per_worker: dict[str, Any] = process.stats()["workers"]["per_worker"]
        if all(counters["received"] > 0 for counters in per_worker.values()) or time.monotonic() > limit:
            return per_worker
        time.sleep(0.2)


def _events(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(directory.glob("events*"))
            for line in path.read_text().splitlines() if line.strip()]


def _comparable(event: dict[str, Any]) -> str:
    """Without times: a flow's final report is made when its process stops, and the kernel stamps a TCP
    segment on lo when it copies it to each socket (its own stamp is a monotonic departure time), so two
    captures of one segment differ by microseconds. Everything else must be identical (times are checked
    apart, to the millisecond)."""
    event = dict(event)
    event.pop("@timestamp", None)
    event["event"] = {k: v for k, v in event["event"].items() if k not in ("start", "end", "duration")}
    if isinstance(event.get("tcp"), dict):  # a flow's round-trip times are measured from those stamps too
        event["tcp"] = {k: v for k, v in event["tcp"].items() if k != "rtt"}
    if event.get("type") == "flow":  # flow.id hashes the key with the first packet's stamp
        event["flow"] = {k: v for k, v in event["flow"].items() if k != "id"}
    return json.dumps(event, sort_keys=True)


def _start_times(events: list[dict[str, Any]]) -> dict[str, list[float]]:
    """event.start of each event, in seconds, under its `_comparable` form."""
    times: dict[str, list[float]] = {}
    for event in events:
        start = datetime.fromisoformat(event["event"]["start"].replace("Z", "+00:00")).timestamp()
        times.setdefault(_comparable(event), []).append(start)
    return {key: sorted(values) for key, values in times.items()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not running
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_two_workers_give_the_flows_and_transactions_of_one_and_report_each_workers_kernel_counters(
        tmp_path: Path, servers: tuple[DnsResponder, _Web]) -> None:
    one = _start(tmp_path, "one", servers, 1)
    two = _start(tmp_path, "two", servers, 2)
    try:
        _ready(one, 1)
        _ready(two, 2)
        flows = _traffic(servers, "a")
        two.wait_for_events(QUERIES + REQUESTS)
        per_worker = _counters_once_sent(two)
        assert one.signal_and_time() < 10 and two.signal_and_time() < 10
    finally:
        one.kill()
        two.kill()
    assert set(per_worker) == {"0", "1"}
    for counters in per_worker.values():
        assert isinstance(counters["kernel_dropped"], int) and counters["kernel_dropped"] == 0
    # each worker saw some of the traffic: the kernel shared the flows out
    assert all(counters["received"] > 0 for counters in per_worker.values()), per_worker
    events_one, events_two = _events(tmp_path / "one"), _events(tmp_path / "two")
    kinds = Counter(event["type"] for event in events_two)
    # what the test's clients did: each query and each request is one transaction; each client port one flow
    assert kinds == {"dns": QUERIES, "http": REQUESTS, "flow": flows}, kinds
    assert {e["dns"]["question"]["name"] for e in events_two if e["type"] == "dns"} == {
        f"q{i}.a.example" for i in range(QUERIES)}
    assert Counter(map(_comparable, events_two)) == Counter(map(_comparable, events_one))
    starts_one, starts_two = _start_times(events_one), _start_times(events_two)
    for key, starts in starts_two.items():  # the same packets: stamps microseconds apart, shown in ms
        assert all(abs(a - b) <= 0.002 for a, b in zip(starts, starts_one[key], strict=True)), key


@pytest.mark.parametrize(("signum", "how"), [(signal.SIGKILL, "killed by SIGKILL"), (signal.SIGTERM, "exit status 0")])
def test_a_killed_worker_is_restarted_logged_and_counted_and_the_capture_goes_on(
        tmp_path: Path, servers: tuple[DnsResponder, _Web], signum: int, how: str) -> None:
    two = _start(tmp_path, "two", servers, 2)
    try:
        _ready(two, 2)
        victim = two.stats()["workers"]["per_worker"]["1"]["pid"]
        os.kill(victim, signum)  # SIGTERM from someone else: the worker stops cleanly, and is replaced too
        two.wait_for(rf"worker 1 \(pid {victim}\) ended \({how}\) after [\d.]+s; restarted as pid \d+ \(restart 1")
        _ready(two, 2)
        workers = two.stats()["workers"]
        assert workers["restarts"] == 1 and workers["per_worker"]["1"]["restarts"] == 1
        assert workers["per_worker"]["1"]["pid"] != victim
        _traffic(servers, "b")
        two.wait_for_events(QUERIES + REQUESTS)
        assert two.signal_and_time() < 10
    finally:
        two.kill()
    names = {e["dns"]["question"]["name"] for e in _events(tmp_path / "two") if e["type"] == "dns"}
    assert names == {f"q{i}.b.example" for i in range(QUERIES)}
    assert len([line for line in two.lines if "restarted" in line]) == 1  # one line per restart


def test_sigterm_stops_the_main_process_and_every_worker(
        tmp_path: Path, servers: tuple[DnsResponder, _Web]) -> None:
    two = _start(tmp_path, "two", servers, 2)
    try:
        _ready(two, 2)
        pids = [w["pid"] for w in two.stats()["workers"]["per_worker"].values()]
        assert all(_alive(pid) for pid in pids)
        # shutdown_timeout is 0s: the whole stop must take well under 0 + 2 s, workers included
        assert two.signal_and_time() < 2
    finally:
        two.kill()
    assert not [pid for pid in pids if _alive(pid)]
    assert two.proc.returncode == 0
    assert not two.wait_for(r"done: ")[0].count("Traceback")


def test_workers_die_with_a_main_process_killed_outright(
        tmp_path: Path, servers: tuple[DnsResponder, _Web]) -> None:
    two = _start(tmp_path, "two", servers, 2)
    try:
        _ready(two, 2)
        pids = [w["pid"] for w in two.stats()["workers"]["per_worker"].values()]
        two.proc.kill()  # SIGKILL: no handler runs, nothing is stopped in order
        two.proc.wait(10)
        limit = time.monotonic() + 5
        while [pid for pid in pids if _alive(pid)] and time.monotonic() < limit:
            time.sleep(0.1)
    finally:
        two.kill()
    assert not [pid for pid in pids if _alive(pid)]
