"""The command line: user mistakes give one line naming the problem and exit 1; commands work."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "pcaps" / "packetbeat"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    # An empty working directory: no packetshipper.yml is picked up unless -c names one.
    with tempfile.TemporaryDirectory(prefix="packetshipper-cli-") as workdir:
        return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=workdir)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("packetshipper:\n  flows:\n    timout: 10s\n", "packetshipper.flows.timout: unknown setting"),
        ("packetshipper:\n  flows:\n    timeout: soon\n", "packetshipper.flows.timeout: expected a duration"),
        ("packetshipper:\n  flows:\n    timeout: 0.5s\n", "packetshipper.flows.timeout: must be at least 1"),
        ("packetshipper:\n  protocols:\n    - type: htp\n", "packetshipper.protocols.0.type: unknown protocol type"),
        ("packetshipper:\n  protocols:\n    - type: http\n      ports: [80, 99999]\n",
         "packetshipper.protocols.0.ports: ports must be integers from 1 to 65535"),
        ("output:\n  console: {}\n  file: {path: /tmp}\n", "output: exactly one output must be enabled"),
        ("output:\n  kinesis: {}\n", "output.kinesis: unknown output"),  # kafka is an output now
        ("packetshipper:\n  interfaces:\n    snaplen: big\n", "packetshipper.interfaces.snaplen: expected an integer"),
        ("queue:\n  mem:\n    events: -5\n", "queue.mem.events"),
        ("a: [\n", "invalid YAML at line 2"),
        ("- just\n- a list\n", "expected a mapping of settings at the top"),
    ],
)
def test_a_bad_config_file_names_the_key_and_the_reason(tmp_path: Path, yaml_text: str, expected: str) -> None:
    config = tmp_path / "packetshipper.yml"
    config.write_text(yaml_text)
    line = _one_error_line(_cli("-c", str(config), "test", "config"))
    assert line.startswith("packetshipper: config error: ")
    assert expected in line
    assert str(config) in line


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    line = _one_error_line(_cli("-c", str(tmp_path / "nope.yml"), "test", "config"))
    assert "nope.yml not found" in line


def test_a_missing_pcap_is_named(tmp_path: Path) -> None:
    line = _one_error_line(_cli("-I", str(tmp_path / "missing.pcap"), "-t"))
    assert line == f"packetshipper: capture error: cannot read {tmp_path / 'missing.pcap'}: no such file"


def test_a_file_that_is_not_a_pcap_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("these are notes, not packets\n" * 10)
    line = _one_error_line(_cli("-I", str(bogus), "-t"))
    assert line == f"packetshipper: capture error: cannot read {bogus}: unknown file format"


def test_a_bad_bpf_filter_is_named() -> None:
    line = _one_error_line(_cli("-I", str(DATA / "dns_google_com.pcap"), "-t", "--bpf", "port port"))
    assert "bad BPF filter 'port port'" in line


def test_test_config_accepts_the_shipped_configs() -> None:
    root = Path(__file__).parent.parent
    for name in ("packetshipper.yml", "packetshipper.reference.yml"):
        result = _cli("-c", str(root / name), "test", "config")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Config OK"


def test_a_pcap_run_writes_events_to_the_file_output(tmp_path: Path) -> None:
    result = _cli("-I", str(DATA / "dns_google_com.pcap"), "-t", "-E", f"output.file.path={tmp_path}",
                  "-E", "output.file.filename=events", "-E", "packetshipper.protocols=[{type: dns}]")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in (tmp_path / "events").read_text().splitlines()]
    assert sorted(e["type"] for e in events) == ["dns", "flow"]
    dns = next(e for e in events if e["type"] == "dns")
    assert dns["dns"]["question"]["name"] == "google.com"
    assert dns["event"]["duration"] == 61782000


def test_modules_lists_every_builtin_module_with_its_ports() -> None:
    result = _cli("modules")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:] if line.strip()}
    assert {"http", "dns", "icmp"} <= set(rows)
    assert "53" in rows["dns"][2]


def test_version_and_export_config() -> None:
    assert _cli("version").stdout.startswith("packetshipper version ")
    exported = _cli("-E", "packetshipper.flows.period=20s", "export", "config")
    assert exported.returncode == 0, exported.stderr
    assert "period: 20.0" in exported.stdout


def test_demo_reads_the_bundled_sample_and_prints_events() -> None:
    result = _cli("demo")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = {e["type"] for e in events}
    assert {"flow", "http", "dns", "icmp"} <= types


def test_a_missing_interface_is_named() -> None:
    line = _one_error_line(_cli("-i", "nosuchif0"))
    assert line == "packetshipper: capture error: cannot capture on nosuchif0: no such device"


def test_test_output_and_setup_say_why_elasticsearch_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hosts = f'output.elasticsearch.hosts=["http://127.0.0.1:{port}"]'
    tested = _cli("-E", hosts, "test", "output")
    assert tested.returncode == 1 and "Traceback" not in tested.stderr
    assert tested.stderr.startswith("packetshipper: output error: ")
    assert "dial up... ERROR" in tested.stderr and "Connection refused" in tested.stderr
    setup = _one_error_line(_cli("-E", hosts, "setup", "--index-management"))
    assert setup.startswith("packetshipper: output error: no Elasticsearch host reachable")


def test_test_output_checks_a_live_elasticsearch_and_setup_installs_the_template() -> None:
    from servers.es_server import EsServer

    with EsServer() as es:
        hosts = f'output.elasticsearch.hosts=["{es.url}"]'
        tested = _cli("-E", hosts, "test", "output")
        assert tested.returncode == 0, tested.stderr
        assert "version: 8.17.0" in tested.stdout
        installed = _cli("-E", hosts, "setup", "--index-management")
        assert installed.returncode == 0, installed.stderr
        assert "packetshipper-0.1.0" in es.templates
        template = es.templates["packetshipper-0.1.0"]
        properties = template["template"]["mappings"]["properties"]
        assert properties["source"]["properties"]["ip"]["type"] == "ip"


def test_debug_selector_shows_protocol_errors_of_that_module_only(tmp_path: Path) -> None:
    # HTTP traffic fed to the DNS module on port 5000: every direction is a DNS protocol error.
    args = ["-t", "-I", str(DATA / "http_minitwit.pcap"), "-E", "packetshipper.protocols=[{type: dns, ports: [5000]}]",
            "-E", f"output.file.path={tmp_path}", "-e"]
    selected = _cli(*args, "-d", "dns")
    assert selected.returncode == 0, selected.stderr
    assert "DEBUG   packetshipper.dns: dns: protocol error tcp 127.0.0.1:54689 -> 127.0.0.1:5000" in selected.stderr
    other = _cli(*args, "-d", "http")
    # No dns debug line (the end-of-run summary still counts the module's protocol errors).
    assert other.returncode == 0 and "DEBUG   packetshipper.dns" not in other.stderr
    assert "dns: protocol errors" in other.stderr
