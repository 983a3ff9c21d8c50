"""Without pymongo's bson the mongodb module says so in one line when enabled, and still reports
transactions from what the wire headers carry (opcodes, collections, sizes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"

SCRIPT = """
import json, logging, sys
sys.modules["bson"] = None  # as if the `mongodb` extra were not installed
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from packetshipper.testing import run_pcap
config = {"packetshipper": {"protocols": [{"type": "mongodb", "ports": [27017]}], "flows": {"enabled": False}}}
run = run_pcap(sys.argv[1], config)
print(json.dumps({"events": run.events, "stats": run.stats["protocols"]["modules"]["mongodb"]}, default=str))
"""


def _run(pcap: str) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(PCAPS / pcap)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_missing_bson_is_one_line_and_events_still_come() -> None:
    out, stderr = _run("mongodb_find.pcap")
    lines = [line for line in stderr.splitlines() if "mongodb" in line or "bson" in line]
    assert lines == ["mongodb: pymongo's bson is not installed (pip install 'packetshipper[mongodb]'): documents are "
                     "not decoded; events carry opcodes, collections, counts and sizes"]
    events = out["events"]
    assert [e["resource"] for e in events] == ["testDB.testCollection", "testDB.$cmd"]
    assert events[0]["method"] == "find" and events[0]["status"] == "OK"
    assert events[0]["source"]["bytes"] == 75 and events[0]["destination"]["bytes"] == 78  # tshark's lengths
    assert out["stats"]["bson_unavailable"] == 1 and out["stats"]["bugs"] == 0
