"""Per-protocol and flows `index` (Beats' per-input setting): events carry `@metadata.raw_index`, the
Elasticsearch output indexes them there as it is, and Logstash receives it in `@metadata`.

sample.pcap's packets are all from 2026-11-23 (tshark -e frame.time_epoch); its DNS, HTTP, ICMP
transactions and flows are what `-I` reports with those modules enabled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packetshipper.raw_index import RawIndex
from packetshipper.settings import ConfigError
from packetshipper.testing import run_pcap
from servers.es_server import EsServer
from servers.lumberjack_server import LumberjackServer

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
PROTOCOLS = ('[{type: dns, index: "dns-%{+yyyy.MM.dd}"}, {type: http, index: web}, {type: icmp}]')
ARGS = ["-E", f"packetshipper.protocols={PROTOCOLS}", "-E", "packetshipper.flows.index=netflows-%{[network.transport]}"]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t",
                             "-E", "output.console.enabled=false", *ARGS, *args],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def test_elasticsearch_indexes_each_event_where_its_protocol_says(tmp_path: Path) -> None:
    with EsServer() as es:
        _run(tmp_path, "-E", f"output.elasticsearch.hosts=['{es.url}']")
        by_index: dict[str, list[dict[str, Any]]] = {name: list(docs) for name, docs in es.documents.items()}
    assert {d["type"] for d in by_index.pop("dns-2026.11.23")} == {"dns"}
    assert {d["type"] for d in by_index.pop("web")} == {"http"}
    flows = {name: docs for name, docs in by_index.items() if name.startswith("netflows-")}
    for name, docs in flows.items():
        assert {(d["type"], "netflows-" + d["network"]["transport"]) for d in docs} == {("flow", name)}
    rest = {name: docs for name, docs in by_index.items() if name not in flows}
    # icmp has no `index`: the output's default (packetshipper-<version>); no document keeps @metadata.
    assert [{d["type"] for d in docs} for docs in rest.values()] == [{"icmp"}]
    assert next(iter(rest)).startswith("packetshipper-")
    assert not any("@metadata" in d for docs in es.documents.values() for d in docs)


def test_logstash_receives_raw_index_in_metadata(tmp_path: Path) -> None:
    with LumberjackServer() as server:
        _run(tmp_path, "-E", f"output.logstash.hosts=['127.0.0.1:{server.port}']")
        events = server.acked_events
    seen = {(e["type"], e["@metadata"].get("raw_index")) for e in events if e["type"] != "flow"}
    assert seen == {("dns", "dns-2026.11.23"), ("http", "web"), ("icmp", None)}
    assert all(e["@metadata"]["raw_index"] == "netflows-" + e["network"]["transport"]
               for e in events if e["type"] == "flow")
    assert {e["@metadata"]["beat"] for e in events} == {"packetshipper"}  # the rest of @metadata stays


def test_processors_see_the_raw_index_and_unrenderable_formats_are_counted() -> None:
    config = {"packetshipper": {
        "protocols": [{"type": "http", "index": "web", "processors": [
            {"add_tags": {"tags": ["to-web"], "when": {"equals": {"@metadata.raw_index": "web"}}}}]},
            {"type": "dns", "index": "dns-%{[no.such.field]}"}],
        "flows": {"enabled": False}}}
    run = run_pcap(str(SAMPLE), config)
    http = [e for e in run.events if e["type"] == "http"]
    dns = [e for e in run.events if e["type"] == "dns"]
    assert http and all("to-web" in e["tags"] for e in http)
    assert dns and not any("raw_index" in e.get("@metadata", {}) for e in dns)  # kept, default index
    assert run.stats["raw_index"]["packetshipper.protocols.dns.index"] == {"stamped": 0, "format_failed": len(dns)}
    assert run.stats["raw_index"]["packetshipper.protocols.http.index"] == {"stamped": len(http), "format_failed": 0}


def test_an_existing_metadata_is_copied_not_changed() -> None:
    shared = {"pipeline": "p"}
    event: dict[str, Any] = {"@metadata": shared}
    RawIndex("x-%{[a]:none}", "flows.index").stamp(event)
    assert event["@metadata"] == {"pipeline": "p", "raw_index": "x-none"} and shared == {"pipeline": "p"}


def test_a_bad_format_string_is_one_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        RawIndex("x-%{[]}", "packetshipper.flows.index")
    assert caught.value.path == "packetshipper.flows.index"


def test_a_bad_format_string_in_the_config_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t",
                             "-E", "packetshipper.flows.index=x-%{[]}"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0
    assert "packetshipper.flows.index" in result.stderr and "Traceback" not in result.stderr
