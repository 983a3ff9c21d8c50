"""A run imports what its configuration uses and nothing else: no other output (Kafka, requests for
Elasticsearch), no report (matplotlib), no schema validation, no protocol module it does not enable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from servers.es_server import EsServer

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"
SCRIPT = """
import json, sys
from packetshipper.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""
NEVER = {"matplotlib", "jsonschema", "confluent_kafka", "msgpack", "packetshipper.report.build",
         "packetshipper.report.render", "packetshipper.fields.schema", "packetshipper.outputs.kafka",
         "packetshipper.outputs.logstash", "packetshipper.outputs.redis", "packetshipper.modules.mysql",
         "packetshipper.modules.http", "packetshipper.modules.tls"}
# Nor, for one process with no HTTP endpoint writing to a file: the endpoint's server, the workers'
# supervisor, the plugin lookup (requests imports some of them for itself).
NOT_FOR_A_FILE = {"http.server", "packetshipper.workers.supervisor", "importlib.metadata"}


def _modules_of_a_run(tmp_path: Path, output: str) -> set[str]:
    config = tmp_path / "packetshipper.yml"
    config.write_text(f"packetshipper.protocols:\n  - type: dns\n{output}\npath.data: {tmp_path / 'data'}\n")
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(listing), "run", "-c", str(config), "--strict.perms=false",
         "-I", str(PCAP), "-t", "--no-progress"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return set(json.loads(listing.read_text()))


def test_a_run_to_a_file_imports_no_other_output_report_or_module(tmp_path: Path):
    modules = _modules_of_a_run(tmp_path, f"output.file:\n  path: {tmp_path / 'out'}")
    assert {"packetshipper.outputs.file", "packetshipper.modules.dns"} <= modules  # it did run
    assert not modules & (NEVER | NOT_FOR_A_FILE | {"requests", "urllib3", "packetshipper.outputs.elasticsearch"})
    assert '"type":"dns"' in (tmp_path / "out" / "packetshipper").read_text()


@pytest.mark.parametrize("validation", [False, True])
def test_what_the_config_asks_for_is_imported(tmp_path: Path, validation: bool):
    check = "\nvalidation.enabled: true" if validation else ""
    with EsServer() as es:
        modules = _modules_of_a_run(tmp_path, f"output.elasticsearch:\n  hosts: ['{es.url}']{check}")
        assert len(es.all_documents()) == 2
    assert {"requests", "packetshipper.outputs.elasticsearch"} <= modules
    assert ("packetshipper.fields.schema" in modules) is validation
    assert not modules & (NEVER - {"packetshipper.fields.schema", "jsonschema"})
