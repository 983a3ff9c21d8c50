"""`-d nfs` says what was paired, one line per transaction, through the real CLI; checked against
tshark's dissection of the same captures (xid, procedure, NFS status, record sizes)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
_LINE = re.compile(r"DEBUG\s+packetshipper\.nfs: nfs: (?P<text>.*), [\d.]+ ms$")
# tshark -e rpc.xid -e nfs.procedure_v3 / nfs.main_opcode -e nfs.status3 / nfs.nfsstat4 -e rpc.fraglen
EXPECTED = {
    "nfs_v3.pcap": "tcp 127.0.0.1:839 -> 127.0.0.1:2049: xid a19a75d0 v3 LOOKUP -> success NFSERR_NOENT; OK, "
                   "116/32 bytes",
    "nfsv42_clone.pcap": "tcp 192.168.0.20:742 -> 192.168.0.41:2049: xid 592d006f v4 CLONE -> success "
                         "NFSERR_NOTSUPP; OK, 272/112 bytes",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_debug_line_per_transaction(tmp_path: Path, name: str) -> None:
    (tmp_path / "ps.yml").write_text("packetshipper:\n  flows: {enabled: false}\n  protocols:\n"
                                     f"    - {{type: nfs}}\noutput:\n  file: {{path: {tmp_path / 'out'}}}\n")
    proc = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-c", "ps.yml", "-I", str(PCAPS / name), "-t",
                           "-e", "-d", "nfs"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [m["text"] for line in proc.stderr.splitlines() if (m := _LINE.search(line))]
    assert lines == [EXPECTED[name]]
