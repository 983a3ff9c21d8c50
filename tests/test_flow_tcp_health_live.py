"""TCP health of real connections over a link with a known delay: two network namespaces of the test's
own, joined by a userspace relay that delays every frame 50 ms each way (tests/relay). packetshipper
captures live in both namespaces; the client's and the server's kernels are the authorities.

The client namespace's capture sees each SYN before the relay (so a blackholed SYN is still seen), the
server namespace's capture sees each server segment before the relay drops it (so every retransmission
is a second copy of bytes already seen there).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from relay import PEERS, DelayedLink

pytestmark = [pytest.mark.live, pytest.mark.slow,
              pytest.mark.skipif(DelayedLink.unavailable() is not None, reason=str(DelayedLink.unavailable()))]

ONE_WAY = 0.05
BLACKHOLE, LOSSY = 9, 5001
SCENARIOS = ["sf", "rej", "s0", "rsto", "rstr"]


def _read(handle: Any) -> str:
    handle.seek(0)
    return str(handle.read())


def _events(directory: Path) -> list[dict[str, Any]]:
    if not directory.exists():
        return []
    return [json.loads(line) for path in sorted(directory.iterdir()) for line in path.read_text().splitlines() if line]


class Captured:
    def __init__(self) -> None:
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, list[dict[str, Any]]] = {}
        self.kernel_retrans = 0
        self.relay: dict[str, int] = {}

    def flow(self, side: str, scenario: str) -> dict[str, Any]:
        """The final flow event of that scenario's connection, from that namespace's capture."""
        port = self.scenarios[scenario]["port"]
        found = [e for e in self.flows[side] if e["network"].get("transport") == "tcp" and e["flow"]["final"]
                 and port in (e["source"].get("port"), e["destination"].get("port"))]
        assert len(found) == 1, (scenario, found)
        return found[0]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    work = tmp_path_factory.mktemp("tcp_health_live")
    result = Captured()
    processes: list[subprocess.Popen[str]] = []
    logs: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        link = stack.enter_context(
            DelayedLink("h", delay=ONE_WAY, blackhole_ports=(BLACKHOLE,), lossy_ports=(LOSSY,), loss=0.05))
        try:
            server = link.popen("server", [sys.executable, str(PEERS), "server", link.SERVER],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            processes.append(server)
            assert server.stdout is not None and server.stdout.readline().strip() == "listening"
            captures = {}
            for side in ("client", "server"):
                logs[side] = stack.enter_context(tempfile.TemporaryFile("w+"))
                captures[side] = link.popen(side, [
                    sys.executable, "-m", "packetshipper.cli", "-i", link.devices[side], "-e", "--bpf", "tcp",
                    "-E", f"output.file.path={work / side}", "-E", "output.file.filename=events",
                    "-E", "packetshipper.flows.period=-1", "-E", "packetshipper.protocols=[]"],
                    stdout=subprocess.DEVNULL, stderr=logs[side], cwd=work)
                processes.append(captures[side])
            deadline = time.monotonic() + 30
            for side, proc in captures.items():
                while "reading interface" not in _read(logs[side]) and proc.poll() is None \
                        and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert proc.poll() is None, _read(logs[side])
            time.sleep(0.5)  # the capture handles are open once the line is out; let them settle
            clients = link.run("client", [sys.executable, str(PEERS), "client", link.SERVER, *SCENARIOS],
                               capture_output=True, timeout=60, check=True)
            before = link.tcp_retrans_segs("server")
            bulk = link.run("client", [sys.executable, str(PEERS), "client", link.SERVER, "bulk"],
                            capture_output=True, timeout=60, check=True)
            result.kernel_retrans = link.tcp_retrans_segs("server") - before
            for line in (clients.stdout + bulk.stdout).splitlines():
                record = json.loads(line)
                result.scenarios[record["scenario"]] = record
            time.sleep(0.3)
            for side, proc in captures.items():
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0, _read(logs[side])
                result.flows[side] = [e for e in _events(work / side) if e["type"] == "flow"]
        finally:
            for proc in processes:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    result.relay = link.relay_counts
    yield result


def test_the_client_programs_saw_what_each_scenario_means(captured: Captured) -> None:
    s = captured.scenarios
    assert s["sf"]["answer"] == "answer to hello"
    assert s["rej"]["outcome"] == "refused"
    assert s["s0"]["outcome"] == "timeout"
    assert s["bulk"]["received"] == 400_000
    assert captured.relay["blackholed"] >= 2 and captured.relay["lost"] > 0


@pytest.mark.parametrize("side", ["client", "server"])
def test_a_normal_connection_is_sf_with_the_link_round_trip_as_handshake(captured: Captured, side: str) -> None:
    event = captured.flow(side, "sf")
    tcp = event["tcp"]
    assert tcp["connection_state"] == "SF"
    assert tcp["history"].startswith("ShAD") and "F" in tcp["history"] and "f" in tcp["history"]
    rtt = tcp["rtt"]
    assert 0.9 * 2 * ONE_WAY * 1e6 <= rtt["handshake_us"] <= 1.1 * 2 * ONE_WAY * 1e6
    assert rtt["handshake_us"] == rtt["server_us"] + rtt["client_us"]
    # Near the client the server's half is the whole trip; near the server, the client's.
    far, near = ("server_us", "client_us") if side == "client" else ("client_us", "server_us")
    assert rtt[far] >= 0.9 * 2 * ONE_WAY * 1e6 and rtt[near] < 0.1 * 2 * ONE_WAY * 1e6
    # The running estimate: data and the ACKs covering it, over the same link (a delayed ACK may add up to 200 ms).
    assert rtt["samples"] >= 1
    assert 0.9 * 2 * ONE_WAY * 1e6 <= rtt["mean_us"] <= 2 * ONE_WAY * 1e6 + 200_000
    for who in ("source", "destination"):
        assert tcp[who]["retransmitted_packets"] == tcp[who]["gap_bytes"] == tcp[who]["out_of_order"] == 0
    assert sorted(tcp["source"]["flags"]) == ["ACK", "FIN", "PSH", "SYN"]


def test_a_connection_to_a_closed_port_is_rej(captured: Captured) -> None:
    tcp = captured.flow("client", "rej")["tcp"]
    assert tcp["connection_state"] == "REJ"
    assert tcp["history"] == "Sr"
    assert tcp["rtt"]["samples"] == 0 and "handshake_us" not in tcp["rtt"]


def test_a_syn_nobody_answers_is_s0_and_its_retransmission_counts(captured: Captured) -> None:
    event = captured.flow("client", "s0")
    tcp = event["tcp"]
    assert tcp["connection_state"] == "S0"
    assert tcp["history"] == "S"  # the retransmitted SYN has the same sequence number
    # Linux's first SYN retransmission is 1 s after the SYN; the client gave up after 1.5 s.
    assert event["source"]["packets"] == 2 and tcp["source"]["retransmitted_packets"] == 1
    assert tcp["source"]["flags"] == ["SYN"] and "packets" not in event["destination"]


@pytest.mark.parametrize(("scenario", "state", "letter"), [("rsto", "RSTO", "R"), ("rstr", "RSTR", "r")])
@pytest.mark.parametrize("side", ["client", "server"])
def test_a_reset_after_data_is_rsto_or_rstr_by_who_sent_it(captured: Captured, scenario: str, state: str,
                                                          letter: str, side: str) -> None:
    tcp = captured.flow(side, scenario)["tcp"]
    assert tcp["connection_state"] == state
    assert tcp["history"].startswith("ShAD") and letter in tcp["history"]
    assert "RST" in tcp["source" if letter == "R" else "destination"]["flags"]


def test_server_retransmissions_seen_at_the_sensor_equal_the_server_kernels_count(captured: Captured) -> None:
    event = captured.flow("server", "bulk")
    tcp = event["tcp"]
    assert event["destination"]["port"] == LOSSY  # the client opened it: source is the client
    kernel = captured.kernel_retrans
    assert kernel >= 3, "the relay's losses made the server retransmit"
    assert abs(tcp["destination"]["retransmitted_packets"] - kernel) <= 2, (tcp, kernel)
    assert tcp["destination"]["retransmitted_bytes"] > 0
    assert tcp["destination"]["gap_bytes"] == 0  # the server's capture saw every byte before the relay
    assert tcp["connection_state"] == "SF"
    assert "t" in tcp["history"]
    # Karn's rule: the samples left are from segments sent once; the estimate is still the link's.
    assert tcp["rtt"]["samples"] >= 1


def test_every_live_flow_event_matches_the_flow_fields(captured: Captured,
                                                      assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    for side in ("client", "server"):
        assert captured.flows[side]
        for event in captured.flows[side]:
            assert_valid_event(event)
