"""`-d mysql`: one line per transaction and one per counted anomaly, through the real CLI; the queries
they name are the ones tshark reads from the same capture."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PCAPS = Path(__file__).resolve().parent / "pcaps" / "packetbeat"
_LINE = re.compile(r"^\S+ \S+ DEBUG\s+packetshipper\.mysql: mysql: (?P<text>.*)$")

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _debug_lines(pcap: Path, tmp_path: Path, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(pcap), "-t", "-e",
                           "-E", f"output.file.path={tmp_path / 'out'}", *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return [m["text"] for line in proc.stderr.splitlines() if (m := _LINE.match(line))]


def _tshark_queries(pcap: Path, port: int) -> list[tuple[str, str]]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},mysql", "-Y", "mysql.query",
                          "-T", "fields", "-e", "mysql.command", "-e", "mysql.query"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]  # type: ignore[misc]


def test_a_gap_and_its_transaction_are_told(tmp_path: Path) -> None:
    pcap = PCAPS / "mysql_with_gap.pcap"
    lines = _debug_lines(pcap, tmp_path, "-d", "mysql")
    [(_, query)] = _tshark_queries(pcap, 3306)
    where = "tcp 192.168.33.1:60137 -> 192.168.33.14:3306"
    assert f"{where}: bytes lost in the server's stream (gaps_in_responses +1)" in lines
    told = [line for line in lines if line.startswith(f"{where}: {query} -> ")]
    assert len(told) == 1 and "OK (Packet loss while capturing the response)" in told[0]


def test_prepare_and_execute_are_told_by_name(tmp_path: Path) -> None:
    pcap = PCAPS / "mysql_prepare_statement.pcap"
    lines = _debug_lines(pcap, tmp_path, "-d", "mysql")
    [(command, query)] = _tshark_queries(pcap, 3307)
    assert command == "22"  # COM_STMT_PREPARE; the execute (23) carries no text of its own
    shown = query if len(query) <= 200 else query[:200] + "..."
    assert [line.split(": ", 1)[1].split(" -> ")[0] for line in lines] == [
        f"PREPARE {shown}", f"EXECUTE {shown} (3 parameters)"]


def test_nothing_is_written_without_the_selector(tmp_path: Path) -> None:
    assert _debug_lines(PCAPS / "mysql_with_gap.pcap", tmp_path) == []
