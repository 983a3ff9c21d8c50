"""Packetbeat 8's own packetbeat.yml and packetbeat.reference.yml (tests/packetbeat_configs/) load and
run unchanged: `packetbeat.*` is read as `packetshipper.*` (one info line), every key either works or is
named once in a warning saying it has no effect, none is refused."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from packetshipper.config import PACKETBEAT_ONLY_PROTOCOLS, validate_config
from packetshipper.registry import available_modules
from packetshipper.settings import ConfigError

HERE = Path(__file__).parent
CONFIGS = HERE / "packetbeat_configs"
REFERENCE = CONFIGS / "packetbeat.reference.yml"
STOCK = CONFIGS / "packetbeat.yml"
HTTP_POST = HERE / "pcaps" / "packetbeat" / "http_post.pcap"  # one HTTP POST (8 packets), one flow



def _missing_modules(config: Path) -> list[str]:
    """The file's protocol entries of Packetbeat modules this installation has no module for."""
    entries = yaml.safe_load(config.read_text())["packetbeat.protocols"]
    return [f"packetshipper.protocols.{i} ({entry['type']})" for i, entry in enumerate(entries)
            if entry["type"] in PACKETBEAT_ONLY_PROTOCOLS and entry["type"] not in available_modules()]


# What each file has that has no counterpart here, read off the files themselves: `setup.kibana:` in
# both, and the Packetbeat modules not here.
NO_EFFECT = {
    REFERENCE: ["setup.kibana", *_missing_modules(REFERENCE)],
    STOCK: ["setup.kibana", *_missing_modules(STOCK)],
}
_WARNING = re.compile(r" WARNING +packetshipper[.\w]*: (.+?): .*(has no effect|not supported|no counterpart)")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _warned(stderr: str) -> Counter[str]:
    return Counter(match.group(1) for match in map(_WARNING.search, stderr.splitlines()) if match)


def _check_messages(stderr: str, config: Path) -> None:
    info = [line for line in stderr.splitlines() if "packetbeat.* settings are read as packetshipper.*" in line]
    assert len(info) == 1 and " INFO " in info[0], stderr
    warned = _warned(stderr)
    for key in NO_EFFECT[config]:
        assert warned[key] == 1, f"{key} warned {warned[key]} times:\n{stderr}"
    assert all(count == 1 for count in warned.values()), warned
    if config == REFERENCE:  # no processors here: nothing else may be warned about
        assert sorted(warned) == sorted(NO_EFFECT[config]), warned
    assert "config error" not in stderr, stderr


def _unless_processors_refused(result: subprocess.CompletedProcess[str]) -> None:
    """packetbeat.yml's `processors` (an if/then/else, add_cloud_metadata, add_docker_metadata,
    detect_mime_type) are the processors package's to accept: while it refuses them, say so, and check
    that nothing else was refused."""
    lines = result.stderr.strip().splitlines()
    if result.returncode == 1 and lines and lines[-1].startswith("packetshipper: config error: processors."):
        pytest.xfail(f"shipper/processors refuses packetbeat.yml's processors: {lines[-1]}")


@pytest.mark.parametrize("config", [REFERENCE, STOCK], ids=lambda p: p.name)
def test_stock_config_passes_test_config_unchanged(config: Path, tmp_path: Path) -> None:
    result = _cli("test", "config", "-c", str(config), cwd=tmp_path)
    _unless_processors_refused(result)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Config OK"
    _check_messages(result.stderr, config)


@pytest.mark.parametrize("config", [REFERENCE, STOCK], ids=lambda p: p.name)
def test_stock_config_runs_a_pcap_with_output_redirected(config: Path, tmp_path: Path,
                                                        assert_valid_event: Any) -> None:
    out = tmp_path / "out"
    result = _cli("-c", str(config), "-I", str(HTTP_POST), "-t", "-e", "-E", "output.elasticsearch.enabled=false",
                  "-E", f"output.file.path={out}", cwd=tmp_path)
    _unless_processors_refused(result)
    assert result.returncode == 0, result.stderr
    _check_messages(result.stderr, config)
    events = [json.loads(line) for line in (out / "packetshipper").read_text().splitlines()]
    assert sorted(event["type"] for event in events) == ["flow", "http"]
    http = next(event for event in events if event["type"] == "http")
    assert http["http"]["request"]["method"] == "POST"
    # internal_networks: [private] from the file: 192.168.238.50 talking to 107.170.1.22 is outbound
    assert http["source"]["ip"] == "192.168.238.50" and http["network"]["direction"] == "outbound"
    for event in events:
        assert_valid_event(event)


def test_the_files_are_the_packetbeat_ones() -> None:
    """Guard against an edit: the copies keep Packetbeat's own keys (see packetbeat_configs/README.md)."""
    for path in (REFERENCE, STOCK):
        raw = yaml.safe_load(path.read_text())
        assert raw["packetbeat.interfaces.device"] == "any"
        assert [entry["type"] for entry in raw["packetbeat.protocols"]][:3] == ["icmp", "amqp", "cassandra"]
    assert len(REFERENCE.read_bytes()) == 81240 and len(STOCK.read_bytes()) == 10621


# --- the alias ----------------------------------------------------------------------------------------


def test_packetbeat_keys_mean_the_packetshipper_ones_in_every_spelling() -> None:
    config = validate_config({
        "packetbeat.flows.timeout": "5s",
        "packetbeat": {"flows": {"period": "2s"}, "protocols": [{"type": "dns", "ports": [5353]}]},
        "packetshipper": {"interfaces": {"snaplen": 1500}},
    })
    ps = config["packetshipper"]
    assert ps["flows"]["timeout"] == 5.0 and ps["flows"]["period"] == 2.0
    assert ps["protocols"] == [{"type": "dns", "ports": [5353]}]
    assert ps["interfaces"]["snaplen"] == 1500
    assert "packetbeat" not in config


def test_a_wrong_packetbeat_key_is_named_as_its_packetshipper_spelling() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"packetbeat.flows.timout": "5s"})
    assert caught.value.path == "packetshipper.flows.timout"


def test_a_minus_e_packetbeat_key_reaches_the_list_of_the_file(tmp_path: Path) -> None:
    config = tmp_path / "pb.yml"
    config.write_text("packetbeat.protocols:\n- type: dns\n  ports: [53]\n- type: http\n  ports: [80]\n"
                      "output.console: {}\n")
    result = _cli("export", "config", "-c", str(config), "-E", "packetbeat.protocols.1.ports=[81]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = yaml.safe_load(result.stdout)
    assert exported["packetshipper"]["protocols"] == [{"type": "dns", "ports": [53]}, {"type": "http", "ports": [81]}]


# --- keys with no counterpart -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["cloud.id", "cloud.auth", "xpack.monitoring.enabled", "monitoring.enabled",
                                 "monitoring.elasticsearch.hosts", "seccomp.enabled", "instrumentation.enabled",
                                 "migration.6_to_7.enabled", "keystore.path", "logging.to_syslog",
                                 "logging.to_eventlog", "logging.files.interval", "logging.files.rotateonstartup",
                                 "setup.dashboards.enabled", "setup.kibana.host"])
def test_a_beats_only_key_loads_with_one_warning_naming_its_section(key: str,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    raw: dict[str, Any] = {key: "x"}
    with caplog.at_level(logging.WARNING, logger="packetshipper.config"):
        validate_config(raw)
    lines = [record.getMessage() for record in caplog.records if "has no effect" in record.getMessage()]
    assert len(lines) == 1, lines
    section = lines[0].split(":")[0]
    assert key == section or key.startswith(section + ".")


def test_an_unknown_protocol_type_that_packetbeat_does_not_have_either_is_still_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"packetbeat.protocols": [{"type": "htp", "ports": [80]}]})
    assert caught.value.path == "packetshipper.protocols.0.type" and "htp" in caught.value.reason


# --- max_procs -----------------------------------------------------------------------------------------


def test_max_procs_pins_the_process_to_that_many_cpus() -> None:
    """Run in a child, so the test process keeps its CPUs; the kernel's own view is read back."""
    code = ("import os; from packetshipper.cli import apply_max_procs; before = len(os.sched_getaffinity(0)); "
            "apply_max_procs(1); print(before, len(os.sched_getaffinity(0)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    before, after = map(int, result.stdout.split())
    assert after == 1 <= before


def test_max_procs_beyond_the_cpus_there_are_changes_nothing() -> None:
    code = ("import os; from packetshipper.cli import apply_max_procs; before = sorted(os.sched_getaffinity(0)); "
            "apply_max_procs(4096); apply_max_procs(None); print(before == sorted(os.sched_getaffinity(0)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "True"


def test_max_procs_must_be_a_positive_count() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"max_procs": 0})
    assert caught.value.path == "max_procs"
    assert validate_config({"max_procs": 2})["max_procs"] == 2
