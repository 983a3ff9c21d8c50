"""`packetshipper.compat.packetbeat`: downstream sees that Packetbeat version (Beats' own names: the
beat name in @metadata, agent.type, index, template and lifecycle policy), and nothing changes without it."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servers.es_server import EsServer
from servers.lumberjack_server import LumberjackServer

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
COMPAT = ["-E", "packetshipper.compat.packetbeat=8.15.0"]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t", *args],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def _logstash(tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    with LumberjackServer() as server:
        _run(tmp_path, "-E", "output.console.enabled=false", "-E", f"output.logstash.hosts=['127.0.0.1:{server.port}']",
             *args)
        return server.acked_events


def test_logstash_events_say_packetbeat_8_15_0(tmp_path: Path) -> None:
    events = _logstash(tmp_path, *COMPAT)
    assert len(events) == 25
    assert {(e["@metadata"]["beat"], e["@metadata"]["version"]) for e in events} == {("packetbeat", "8.15.0")}
    assert {e["agent"]["type"] for e in events} == {"packetbeat"}


def test_without_compat_nothing_changes(tmp_path: Path) -> None:
    events = _logstash(tmp_path)
    assert {e["@metadata"]["beat"] for e in events} == {"packetshipper"}
    assert {e["agent"]["type"] for e in events} == {"packetshipper"}


def test_elasticsearch_documents_go_to_packetbeat_8_15_0(tmp_path: Path) -> None:
    with EsServer(version="8.15.0") as es:
        _run(tmp_path, "-E", "output.console.enabled=false", "-E", f"output.elasticsearch.hosts=['{es.url}']", *COMPAT)
        assert set(es.documents) == {"packetbeat-8.15.0"}
        assert len(es.all_documents()) == 25
        assert {doc["agent"]["type"] for doc in es.all_documents()} == {"packetbeat"}


def test_an_index_the_user_set_is_kept(tmp_path: Path) -> None:
    with EsServer() as es:
        _run(tmp_path, "-E", "output.console.enabled=false", "-E", f"output.elasticsearch.hosts=['{es.url}']",
             "-E", "output.elasticsearch.index=netflows", *COMPAT)
        assert set(es.documents) == {"netflows"}


def test_the_template_and_policy_are_packetbeats(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "export", "template", *COMPAT],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    template = json.loads(result.stdout)
    assert template["index_patterns"] == ["packetbeat-8.15.0"]
    # Packetbeat 8's dashboards and its Kibana data view use the index pattern `packetbeat-*`.
    assert all(fnmatch.fnmatch(pattern, "packetbeat-*") for pattern in template["index_patterns"])
    assert template["template"]["settings"]["index"]["lifecycle"]["name"] == "packetbeat"


@pytest.mark.parametrize("version", ["7.17.0", "8", "latest", "8.15"])
def test_only_a_packetbeat_8_version_is_accepted(tmp_path: Path, version: str) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "test", "config", "-E",
                             f"packetshipper.compat.packetbeat={version}"], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 1
    assert "packetshipper.compat.packetbeat" in result.stderr and len(result.stderr.strip().splitlines()) == 1
