"""`-d memcache` says what was paired, one line per transaction, through the real CLI; checked against
what tshark's memcache dissector reads in the same capture (opcodes, keys, opaques, status, bytes)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "memcache" / "memcache_bin_tcp_multi_store_load.pcap"
_LINE = re.compile(r"DEBUG\s+packetshipper\.memcache: memcache: (?P<text>.*)$")
# The binary protocol specification's opcode names (as Packetbeat spells them) and status 0.
OPCODES = {1: "Set", 7: "Quit", 10: "No-op", 13: "GetKQ"}
SUCCESS = "Success"


def _tshark() -> tuple[list[tuple[int, str, int]], list[tuple[int, str, int, int]]]:
    proc = subprocess.run(
        ["tshark", "-r", str(PCAP), "-n", "-Y", "memcache", "-T", "fields", "-E", "separator=|",
         "-e", "tcp.srcport", "-e", "memcache.opcode", "-e", "memcache.key", "-e", "memcache.status",
         "-e", "memcache.opaque", "-e", "tcp.len"], capture_output=True, text=True, timeout=60, check=True)
    requests, replies = [], []
    for row in proc.stdout.splitlines():
        port, opcodes, keys, status, opaques, size = row.split("|")
        ops, names, tags = opcodes.split(","), keys.split(","), opaques.split(",")
        for i, op in enumerate(ops):
            key = names[i] if len(names) == len(ops) else ""
            if port == "11211":
                replies.append((int(op), key, int(tags[i]), int(size)))
            else:  # a request's size: its 24-byte header, extras and key (tshark's tcp.len when alone)
                requests.append((int(op), key, int(tags[i]), int(size) if len(ops) == 1 else 24 + len(key)))
    return requests, replies


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_debug_lines_name_each_request_and_reply(tmp_path: Path) -> None:
    (tmp_path / "ps.yml").write_text("packetshipper:\n  flows: {enabled: false}\n  protocols:\n"
                                     f"    - {{type: memcache}}\noutput:\n  file: {{path: {tmp_path / 'out'}}}\n")
    proc = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-c", "ps.yml", "-I", str(PCAP), "-t", "-e",
                           "-d", "memcache"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [re.sub(r", [\d.]+ ms$", "", m["text"]) for line in proc.stderr.splitlines() if (m := _LINE.search(line))]
    requests, replies = _tshark()
    where = "tcp 192.168.188.37:55314 -> 192.168.188.38:11211: "

    def side(op: int, key: str) -> str:
        return OPCODES[op] + (f" {key}" if key else "")

    expected = []
    pending = list(requests)
    for op, key, opaque, size in replies:  # a reply answers the request with its opaque; quiet ones before it got none
        while pending[0][2] != opaque:
            r_op, r_key, _, r_size = pending.pop(0)
            expected.append(f"{where}{side(r_op, r_key)} -> (no response); OK, {r_size}/0 bytes")
        r_op, r_key, _, r_size = pending.pop(0)
        expected.append(f"{where}{side(r_op, r_key)} -> {side(op, key)}: {SUCCESS}; OK, {r_size}/{size} bytes")
    assert lines == expected
    assert len(expected) == 10
