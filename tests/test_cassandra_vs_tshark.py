"""Every RESULT Rows frame in Packetbeat's uncompressed Cassandra captures, checked against tshark's CQL
dissector: stream id, column count and row count (cql.result.rows.row_count)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from packetshipper.testing import events_from_pcap

V4 = Path(__file__).parent / "pcaps" / "packetbeat" / "cassandra" / "v4"
PCAPS = ["cassandra_create_index.pcap", "cassandra_create_keyspace.pcap", "cassandra_create_table.pcap",
         "cassandra_select.pcap", "cassandra_select_via_index.pcap", "cassandra_mixed_frame.pcap"]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_rows(pcap: Path) -> list[tuple[int, int, int]]:
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", "tcp.port==9042,cql", "-Y", "cql.result.rows.row_count",
         "-T", "fields", "-E", "occurrence=a", "-e", "cql.stream", "-e", "cql.opcode",
         "-e", "cql.result.rows.column_count", "-e", "cql.result.rows.row_count"],
        capture_output=True, text=True, check=True, timeout=60).stdout
    found = []
    for line in out.splitlines():
        streams, opcodes, columns, rows = (field.split(",") for field in line.split("\t"))
        results = [s for s, op in zip(streams, opcodes, strict=True) if op == "8"]
        # tshark lists counts only for the Rows results of the packet, in order
        rows_streams = results[-len(rows):] if len(results) >= len(rows) else results
        found += [(int(s), int(c), int(r)) for s, c, r in zip(rows_streams, columns, rows, strict=False)]
    return found


@pytest.mark.parametrize("pcap", PCAPS)
def test_rows_counts_match_tshark(pcap: str) -> None:
    expected = tshark_rows(V4 / pcap)
    assert expected, "tshark found no Rows result"
    config = {"packetshipper": {"protocols": [{"type": "cassandra"}], "flows": {"enabled": False}}}
    ours = []
    for e in events_from_pcap(str(V4 / pcap), config):
        result = e.get("cassandra", {}).get("response", {}).get("result", {})
        if result.get("type") == "rows":
            ours.append((e["cassandra"]["response"]["headers"]["stream"], result["rows"]["meta"]["col_count"],
                         result["rows"]["num_rows"]))
    assert sorted(ours) == sorted(expected)
