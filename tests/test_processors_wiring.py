"""Processors in a run: per protocol before global, for flows, /stats counters, schema-valid events, and the
real CLI with a config file and -E."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packetshipper.config import validate_config
from packetshipper.settings import ConfigError
from packetshipper.testing import run_pcap

DATA = Path(__file__).parent / "pcaps" / "packetbeat"
MINITWIT = str(DATA / "http_minitwit.pcap")


def test_protocol_processors_run_before_the_global_ones() -> None:
    config = yaml.safe_load("""
        packetshipper:
          flows: {enabled: false}
          protocols:
            - type: http
              ports: [80]
              processors:
                - add_fields: {fields: {stage: protocol}}
                - add_tags: {tags: [from-http]}
        processors:
          - add_tags: {tags: [global]}
          - drop_event: {when.equals.fields.stage: nothing}
          - copy_fields: {fields: [{from: fields.stage, to: fields.seen_by_global}]}
    """)
    run = run_pcap(MINITWIT, config)
    assert len(run.events) == 3
    for event in run.events:
        assert event["tags"] == ["from-http", "global"]
        assert event["fields"] == {"stage": "protocol", "seen_by_global": "protocol"}
    assert run.stats["processors"] == {"dropped": 0, "errors": 0, "bugs": 0, "failed": {}}


def test_flow_processors_apply_to_flows_only_and_direction_comes_first() -> None:
    base = {"interfaces": {"internal_networks": ["loopback"]}, "flows": {"enabled": True}}
    plain = run_pcap(MINITWIT, {"packetshipper": {**base, "protocols": [{"type": "http", "ports": [80]}]}}).events
    config = yaml.safe_load("""
        packetshipper:
          interfaces: {internal_networks: [loopback]}
          flows:
            enabled: true
            processors:
              - drop_event: {when.not.equals.network.direction: internal}
              - add_tags: {tags: [flow]}
          protocols:
            - type: http
              ports: [80]
              processors: [{add_tags: {tags: [outside], when.equals.network.direction: external}}]
    """)
    run = run_pcap(MINITWIT, config)
    flows = [e for e in run.events if e["type"] == "flow"]
    http = [e for e in run.events if e["type"] == "http"]
    # network.direction is set before the processors see the event: the internal flows stay, the others go.
    internal = [e for e in plain if e["type"] == "flow" and e["network"]["direction"] == "internal"]
    assert len(flows) == len(internal) > 0 and all(e["tags"] == ["flow"] for e in flows)
    assert run.stats["processors"]["dropped"] == sum(1 for e in plain if e["type"] == "flow") - len(internal) > 0
    # The three transactions go from 192.168.1.104 to 192.168.1.110, neither loopback: external.
    assert len(http) == 3 and all(e["tags"] == ["outside"] for e in http)


def test_no_processors_means_the_plain_path() -> None:
    run = run_pcap(MINITWIT, {"packetshipper": {"protocols": [{"type": "http", "ports": [80]}]}})
    assert "processors" not in run.stats


def test_validated_config_keeps_plain_data_and_names_protocol_errors() -> None:
    config = validate_config({"processors": [{"add_locale": None}],
                              "packetshipper": {"flows": {"processors": [{"drop_event": {"when.equals.type": "x"}}]}}})
    assert config["processors"] == [{"add_locale": {"format": "offset", "when": None}}]
    assert config["packetshipper"]["flows"]["processors"][0]["drop_event"]["when"] == {"equals": {"type": "x"}}
    with pytest.raises(ConfigError, match=r"^packetshipper\.protocols\.1\.processors\.0\.rename\.fields: required"):
        validate_config({"packetshipper": {"protocols": [{"type": "dns"}, {"type": "http",
                                                                          "processors": [{"rename": {}}]}]}})


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _events(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for file in sorted(directory.iterdir()) for line in file.read_text().splitlines()]


def test_through_the_cli_with_a_config_file_and_e_overrides(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / "packetshipper.yml").write_text(yaml.safe_dump({
        "packetshipper": {"flows": {"enabled": True}, "protocols": [{"type": "http", "ports": [80]}]},
        "processors": [{"drop_event": {"when": {"range": {"http.response.status_code.lt": 300}}}},
                       {"add_fields": {"target": "", "fields": {"labels": {"run": "cli"}}}},
                       {"add_tags": {"tags": ["file"]}}],
        "output": {"file": {"path": str(out)}},
    }))
    result = _cli(["-c", "packetshipper.yml", "-t", "-I", MINITWIT, "-E", "processors.2.add_tags.tags=[cli]"],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    events = _events(out)
    http = sorted((e for e in events if e["type"] == "http"), key=lambda e: e["@timestamp"])
    assert [e["http"]["response"]["status_code"] for e in http] == [304, 404]
    assert all(e["labels"] == {"run": "cli"} and e["tags"] == ["cli"] for e in events)
    assert any(e["type"] == "flow" for e in events)


def test_cli_bad_processor_is_one_line(tmp_path: Path) -> None:
    result = _cli(["-t", "-I", MINITWIT, "-E", "processors=[{rename: {fields: [{from: a, to: 1}]}}]"], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("packetshipper: config error: processors.0.rename.fields.0.to: expected a string")


def test_events_from_labels_locale_and_truncation_still_match_fields() -> None:
    # run_pcap checks every event against fields/ (labels, event.timezone and log.flags are declared there).
    config = {"packetshipper": {"flows": {"enabled": False}, "protocols": [{"type": "http", "ports": [80]}]},
              "processors": [{"add_labels": {"labels": {"team": {"name": "net"}}}}, {"add_locale": None},
                             {"truncate_fields": {"fields": ["url.full"], "max_characters": 7}}]}
    events = run_pcap(MINITWIT, config).events
    assert len(events) == 3
    for event in events:
        assert event["labels"] == {"team.name": "net"}
        assert len(event["url"]["full"]) == 7 and event["log"]["flags"] == ["truncated"]
        assert event["event"]["timezone"][0] in "+-"
