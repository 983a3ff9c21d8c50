"""The pgsql tests' wire builders (tests/pgsql_wire.py) agree with tshark's PostgreSQL dissector, so the
parser tests that use them are checked against an independent reading of the protocol."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pgsql_wire as w
import pytest
from packetshipper.pcapgen import write_pcap
from test_pgsql_stream_anomalies import Conversation

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_rows(path: Path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-Y", "pgsql", "-T", "fields", "-E", "separator=|"]
    for field in fields:
        args += ["-e", field]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def test_builders_match_tshark(tmp_path: Path) -> None:
    c = Conversation()
    c.client(w.startup(user="alice", database="shop"))
    c.server(w.login_ok())
    c.client(w.query("SELECT 1"))
    c.server(w.select_result(["a", "b"], [["1", None]]) + w.ready())
    c.client(w.parse("SELECT $1", name="s1") + w.bind([b"7"], statement="s1") + w.describe("P") + w.execute()
             + w.sync())
    c.server(w.error("42601", "syntax error") + w.notice("00000", "hi") + w.ready("E"))
    path = tmp_path / "pgsql.pcap"
    write_pcap(str(path), c.frames)
    rows = tshark_rows(path, "pgsql.type", "pgsql.length", "pgsql.query", "pgsql.statement", "pgsql.code",
                       "pgsql.parameter_name", "pgsql.parameter_value")
    assert rows == [
        ["Startup message", "34", "", "", "", "user,database", "alice,shop"],
        ["Authentication request,Parameter status,Parameter status,Backend key data,Ready for query",
         "8,24,25,12,5", "", "", "", "server_version,client_encoding", "15.5,UTF8"],
        ["Simple query", "13", "SELECT 1", "", "", "", ""],
        ["Row description,Data row,Command completion,Ready for query", "46,15,13,5", "", "", "", "", ""],
        ["Parse,Bind,Describe,Execute,Sync", "19,19,6,9,4", "SELECT $1", "s1,s1", "", "", ""],
        ["Error,Notice,Ready for query", "40,32,5", "", "", "42601,00000", "", ""],
    ]
