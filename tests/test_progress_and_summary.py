"""The progress line (only on a terminal, never on standard output, off with --no-progress) and the
summary at the end of every file run and of `demo`."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from packetshipper.pcapgen import generate_http_dns, write_pcap

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"


def _under_pty(args: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """Run with standard error on a pseudo-terminal and standard output to a file: (status, stderr, stdout)."""
    master, slave = pty.openpty()
    out_path = cwd / "stdout"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "packetshipper.cli", *args], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=slave, cwd=cwd)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    status = proc.wait(timeout=60)
    return status, b"".join(chunks).decode("utf-8", "replace"), out_path.read_bytes()


def _console_off(tmp_path: Path) -> list[str]:
    return ["-E", "output.console.enabled=false", "-E", f"output.file.path={tmp_path / 'events'}"]


def test_a_long_read_on_a_terminal_shows_one_updating_progress_line(tmp_path: Path) -> None:
    capture = tmp_path / "http-dns.pcap"
    write_pcap(str(capture), generate_http_dns(60_000))
    status, stderr, stdout = _under_pty(["-I", str(capture), "-t", *_console_off(tmp_path)], tmp_path)
    assert status == 0, stderr
    updates = [part for part in re.split(r"[\r\n]", stderr) if "packets/s" in part]
    assert updates, stderr
    final = updates[-1]
    assert "100%" in final and "60,000 packets" in final and "events" in final
    assert "packets/s" not in stdout.decode()  # the line never goes to standard output


def test_no_progress_without_a_terminal_and_with_no_progress(tmp_path: Path) -> None:
    plain = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t", *_console_off(tmp_path)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert plain.returncode == 0
    assert "packets/s" not in plain.stderr and "packets/s" not in plain.stdout
    status, stderr, _ = _under_pty(["-I", str(SAMPLE), "-t", "--no-progress", *_console_off(tmp_path)], tmp_path)
    assert status == 0
    assert "packets/s" not in stderr


def test_a_file_run_ends_with_a_human_summary(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t", *_console_off(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    summary = result.stderr[result.stderr.index("summary of"):]
    # The sample's contents, as shipper/data/README.md lists them (checked there with tshark).
    assert "83 packets" in summary
    assert "flows: 12 seen" in summary
    assert "dns 6 (1 errors)" in summary and "http 5 (2 errors)" in summary and "icmp 2" in summary
    assert "lost or damaged: nothing" in summary


def test_demo_prints_events_then_the_summary_and_how_to_make_the_report(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "demo"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 25  # the events, on standard output as before
    assert "summary of" in result.stderr
    assert f"packetshipper report -I {SAMPLE}" in result.stderr or "packetshipper report -I " in result.stderr


def test_a_damaged_file_is_summed_up_before_its_error_line(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[: len(data) - 30])
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", "cut.pcap", "-t", *_console_off(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("packetshipper: capture error: cut.pcap: packet 83")
    assert any("82 packets" in line for line in lines)
