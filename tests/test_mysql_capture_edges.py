"""What a user sees for a capture begun mid-connection, a server that never answers, and garbage on the
MySQL port: Packetbeat's pcaps cut with editcap / tshark, expected counts from tshark."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import tcp_frame, write_pcap
from packetshipper.testing import run_pcap

PCAPS = Path(__file__).resolve().parent / "pcaps" / "packetbeat"
STRINGS = PCAPS / "mysql_int_string_operations.pcap"  # MySQL on port 13001

pytestmark = pytest.mark.skipif(not (shutil.which("tshark") and shutil.which("editcap")),
                                reason="tshark / editcap not installed")


def _run(pcap: Path, port: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    run = run_pcap(str(pcap), {"packetshipper": {"flows": {"enabled": False},
                                                 "protocols": [{"type": "mysql", "ports": [port]}]}})
    return run.events, run.stats["protocols"]["modules"]["mysql"]


def _queries(pcap: Path) -> list[str]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", "tcp.port==13001,mysql", "-Y", "mysql.command == 3",
                          "-T", "fields", "-e", "mysql.query"], capture_output=True, text=True, timeout=60, check=True)
    # tshark writes a newline inside a field as \n (and tab, CR likewise)
    return [q.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t") for q in out.stdout.splitlines()]


def test_a_capture_begun_mid_connection_gives_every_command_after_the_first_whole_one(tmp_path: Path) -> None:
    cut = tmp_path / "mid.pcap"
    subprocess.run(["editcap", "-r", str(STRINGS), str(cut), "101-318"], check=True, capture_output=True, timeout=60)
    events, stats = _run(cut, 13001)
    expected = _queries(cut)
    assert expected and [e["query"] for e in events] == [q.strip(" \r\n\t") for q in expected]
    assert all(e["status"] == "OK" for e in events)
    assert stats["skipped_packets"] >= 1  # the answer whose query was before the cut


def test_a_server_that_never_answers_gives_unmatched_requests(tmp_path: Path) -> None:
    only_client = tmp_path / "requests.pcap"
    subprocess.run(["tshark", "-r", str(STRINGS), "-Y", "tcp.srcport != 13001", "-w", str(only_client)],
                   check=True, capture_output=True, timeout=60)
    events, stats = _run(only_client, 13001)
    assert len(events) == len(_queries(only_client)) == 157
    assert {(e["status"], e["error"]["message"]) for e in events} == {("Error", "Unmatched request")}
    assert stats["unmatched_requests"] == 157


def test_garbage_on_the_port_is_counted_never_a_crash(tmp_path: Path) -> None:
    rng = random.Random(13)
    frames = []
    for conn in range(40):
        client, sport = f"10.9.0.{conn + 1}", 40000 + conn
        cseq, sseq = 1, 1
        for _ in range(6):
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            if rng.random() < 0.5:
                frames.append((1.0 + conn, tcp_frame(client, "10.9.9.9", sport, 3306, data, flags="PA", seq=cseq)))
                cseq += len(data)
            else:
                frames.append((1.0 + conn, tcp_frame("10.9.9.9", client, 3306, sport, data, flags="PA", seq=sseq)))
                sseq += len(data)
    pcap = tmp_path / "garbage.pcap"
    write_pcap(str(pcap), frames)
    events, stats = _run(pcap, 3306)
    assert stats["bugs"] == 0
    assert all(e["status"] in ("OK", "Error") for e in events)
