"""`-d redis` says what was paired, one line per transaction, through the real CLI; checked against what
tshark's RESP dissector reads in the same capture (commands, replies, bytes per direction)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "redis_session.pcap"
_LINE = re.compile(r"DEBUG\s+packetshipper\.redis: redis: (?P<text>.*)$")


def _tshark() -> list[tuple[str, str, int]]:
    proc = subprocess.run(
        ["tshark", "-r", str(PCAP), "-n", "-d", "tcp.port==6380,resp", "-T", "fields", "-E", "separator=|",
         "-e", "tcp.srcport", "-e", "resp.bulk_string.value", "-e", "resp.bulk_string.length", "-e", "resp.string",
         "-e", "resp.error", "-e", "resp.integer", "-e", "tcp.len"],
        capture_output=True, text=True, timeout=60, check=True)
    out = []
    for row in proc.stdout.splitlines():
        port, bulks, lengths, simple, error, integer, size = row.split("|")
        if port == "32810":
            text = " ".join(bytes.fromhex(v).decode() for v in bulks.split(","))
        elif lengths == "-1":
            text = "nil"
        else:
            text = bytes.fromhex(bulks).decode() if bulks else simple or (f"error {error}" if error else integer)
        out.append((port, text, int(size)))
    return out


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_debug_lines_name_each_command_and_reply(tmp_path: Path) -> None:
    (tmp_path / "ps.yml").write_text("packetshipper:\n  flows: {enabled: false}\n  protocols:\n"
                                     "    - {type: redis, ports: [6380]}\n"
                                     f"output:\n  file: {{path: {tmp_path / 'out'}}}\n")
    proc = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-c", "ps.yml", "-I", str(PCAP), "-t", "-e",
                           "-d", "redis"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [m["text"] for line in proc.stderr.splitlines() if (m := _LINE.search(line))]
    segments = _tshark()
    expected = []
    for (_, command, out_bytes), (_, reply, in_bytes) in zip(segments[::2], segments[1::2], strict=True):
        status = f"Error ({reply[6:]})" if reply.startswith("error ") else "OK"
        expected.append(f"tcp 127.0.0.1:32810 -> 127.0.0.1:6380: {command} -> {reply}; {status}, "
                        f"{out_bytes}/{in_bytes} bytes")
    assert [re.sub(r", [\d.]+ ms$", "", line) for line in lines] == expected
    assert len(expected) == 11
