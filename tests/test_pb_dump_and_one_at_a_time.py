"""`--dump FILE` (every captured packet written to a pcap file, as Packetbeat's -dump) and `-O` (one packet
per Enter). The dumps are read back by tcpdump and tshark; -O is driven through a pipe on stdin, and
the packets read so far are the monitoring endpoint's count while the process waits for the next line."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from packetshipper.capture import CaptureError, LiveSource

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
VLAN = Path(__file__).parent / "pcaps" / "packetbeat" / "http_over_vlan.pcap"
PROMPT = "Press enter to read packet"

needs_tools = pytest.mark.skipif(not (shutil.which("tcpdump") and shutil.which("tshark")),
                                 reason="tcpdump and tshark are needed to read the dump back")


def _cli(*args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, **kwargs)


def _tcpdump(path: Path) -> str:
    """Every record: its time, link header and bytes in hex, as tcpdump decodes them."""
    return subprocess.run(["tcpdump", "-r", str(path), "-tt", "-n", "-e", "-xx"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def _tshark_count(path: Path) -> int:
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return len(out.split())


@needs_tools
@pytest.mark.parametrize("pcap", [SAMPLE, VLAN])
def test_a_file_run_dumps_every_packet_as_it_was(tmp_path: Path, pcap: Path) -> None:
    dump = tmp_path / "dump.pcap"
    result = _cli("-I", str(pcap), "-t", "--dump", str(dump), "-N", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _tshark_count(dump) == _tshark_count(pcap)
    assert _tcpdump(dump) == _tcpdump(pcap)


@needs_tools
def test_packetbeats_single_dash_spelling_works(tmp_path: Path) -> None:
    dump = tmp_path / "dump.pcap"
    result = _cli("-I", str(SAMPLE), "-t", "-dump", str(dump), "-N", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _tshark_count(dump) == _tshark_count(SAMPLE)


def test_a_dump_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    result = _cli("-I", str(SAMPLE), "-t", "--dump", str(tmp_path / "no" / "such" / "dir.pcap"), cwd=tmp_path)
    assert result.returncode == 1
    # The line the pure-Python path logs at start-up (CI's PACKETSHIPPER_PURE_PYTHON=1 run) is not the error's.
    lines = [line for line in result.stderr.splitlines() if "pure-Python path" not in line]
    assert len(lines) == 1 and "--dump" in lines[0] and "Traceback" not in result.stderr


def _can_capture() -> bool:
    try:
        LiveSource("lo").close()
    except CaptureError:
        return False
    return True


@needs_tools
@pytest.mark.live
@pytest.mark.skipif(not _can_capture(), reason="cannot capture on lo")
def test_a_live_capture_dumps_what_it_captured(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        dump = tmp_path / "live.pcap"
        proc = subprocess.Popen([sys.executable, "-m", "packetshipper.cli", "-i", "lo", "--bpf", f"udp port {port}",
                                 "--dump", str(dump), "-e", "-E", f"output.file.path={tmp_path}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if "reading" in line:
                    break
            time.sleep(0.3)
            for i in range(3):
                client.sendto(b"ping %d" % i, ("127.0.0.1", port))
                data, peer = server.recvfrom(100)
                server.sendto(b"pong " + data, peer)
                client.recvfrom(100)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            _, tail = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, tail
    fields = subprocess.run(["tshark", "-r", str(dump), "-T", "fields", "-e", "udp.dstport", "-e", "data.data"],
                            capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    records = [line.split("\t") for line in fields]
    expected = [payload for i in range(3) for payload in (b"ping %d" % i, b"pong ping %d" % i)]
    assert [bytes.fromhex(data) for _, data in records] == expected  # what the test sent, in order
    assert all(dst == str(port) for dst, _ in records[::2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _received(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        stats = json.load(answer)
    return int(stats["capture"]["received"])


def test_one_packet_is_read_per_line_on_stdin(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t", "-O",
                             "-E", "output.console.enabled=false", "-E", f"output.file.path={tmp_path}",
                             "-E", "http.enabled=true", "-E", f"http.port={port}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == PROMPT  # before the first packet
        assert _received(port) == 0  # waiting: nothing read yet
        for read in range(1, 4):
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == PROMPT  # the next prompt: that packet was handled
            assert _received(port) == read
        out, err = proc.communicate("", timeout=60)  # end of input: the rest is read without waiting, as Packetbeat
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == ""  # no prompt after the end of input
    assert "83 packets" in err  # the whole file, tshark: 83 frames


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_dump_that_fails_midway_stops_with_one_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    result = _cli("-I", str(SAMPLE), "-t", "--dump", "/dev/full", "-N", "-e", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "--dump:" in line]
    assert len(warnings) == 1 and "writing /dev/full failed (No space left on device)" in warnings[0]
    assert "83 packets" in result.stderr  # every packet still read
