"""packaging/packetshipper.service: the command it runs, the privileges it grants, and systemd's verdict."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
UNIT = PACKAGING / "packetshipper.service"

# The brief, written out by hand: Packetbeat's invocation with our config, stderr logging and paths.
EXPECTED_ARGV = [
    "/usr/bin/packetshipper", "-e", "-c", "/etc/packetshipper/packetshipper.yml",
    "-E", "path.data=/var/lib/packetshipper", "-E", "path.logs=/var/log/packetshipper",
]
CAPTURE_CAPS = {"CAP_NET_RAW", "CAP_NET_ADMIN"}


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists: systemd allows keys to repeat, configparser does not."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"key outside a section: {line!r}"
        key, eq, value = line.partition("=")
        assert eq, f"not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in section if name == key]


def single(section: list[tuple[str, str]], key: str) -> str:
    found = values(section, key)
    assert len(found) == 1, f"{key}: expected one value, got {found}"
    return found[0]


def exec_start_argv(service: list[tuple[str, str]]) -> list[str]:
    """ExecStart as systemd runs it: `$VAR` as a word becomes the variable's value split at whitespace."""
    environment: dict[str, str] = {}
    for assignment in values(service, "Environment"):
        for word in shlex.split(assignment):
            name, _, value = word.partition("=")
            environment[name] = value
    argv: list[str] = []
    for word in shlex.split(single(service, "ExecStart")):
        if word.startswith("$"):
            argv.extend(environment[word[1:]].split())
        else:
            argv.append(word)
    return argv


@pytest.fixture(scope="module")
def service() -> list[tuple[str, str]]:
    return parse_unit(UNIT.read_text())["Service"]


def test_exec_start_runs_packetshipper_with_the_packaged_config_and_paths(service: list[tuple[str, str]]) -> None:
    assert exec_start_argv(service) == EXPECTED_ARGV
    assert single(service, "Type") == "simple"
    assert single(service, "Restart") == "always"
    assert single(service, "WorkingDirectory") == "/var/lib/packetshipper"


def test_the_service_command_line_is_accepted_by_packetshipper(service: list[tuple[str, str]]) -> None:
    """The unit's own options, with the config path pointed at the packaged file, load and set the paths."""
    argv = exec_start_argv(service)[1:]
    argv[argv.index("/etc/packetshipper/packetshipper.yml")] = str(PACKAGING / "packetshipper.yml")
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", *argv, "export", "config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    effective = yaml.safe_load(result.stdout)
    assert effective["path"]["data"] == "/var/lib/packetshipper"
    assert effective["path"]["logs"] == "/var/log/packetshipper"


def test_runs_as_its_own_user_with_only_the_capture_capabilities(service: list[tuple[str, str]]) -> None:
    assert single(service, "User") == "packetshipper"
    assert single(service, "Group") == "packetshipper"
    assert set(single(service, "AmbientCapabilities").split()) == CAPTURE_CAPS
    assert set(single(service, "CapabilityBoundingSet").split()) == CAPTURE_CAPS
    assert single(service, "NoNewPrivileges") == "yes"


def test_sandbox_is_read_only_except_for_data_and_logs(service: list[tuple[str, str]]) -> None:
    assert single(service, "ProtectSystem") == "strict"
    assert single(service, "ProtectHome") == "yes"
    assert set(single(service, "ReadWritePaths").split()) == {"/var/lib/packetshipper", "/var/log/packetshipper"}
    assert single(service, "StateDirectory") == "packetshipper"
    assert single(service, "LogsDirectory") == "packetshipper"
    # Packet capture needs packet sockets; interface listing needs netlink.
    assert {"AF_PACKET", "AF_NETLINK"} <= set(single(service, "RestrictAddressFamilies").split())


def test_installs_into_multi_user_target() -> None:
    unit = parse_unit(UNIT.read_text())
    assert single(unit["Install"], "WantedBy") == "multi-user.target"
    assert single(unit["Unit"], "After") == "network-online.target"


def _unit_with_runnable_exec_start(directory: Path, text: str) -> Path:
    """verify checks that ExecStart's binary exists: point it at a stub, leaving every directive as it is."""
    stub = directory / "packetshipper"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = directory / "packetshipper.service"
    unit.write_text(text.replace("ExecStart=/usr/bin/packetshipper ", f"ExecStart={stub} "))
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (Debian package: systemd)")
def test_systemd_analyze_verify_reports_nothing(tmp_path: Path) -> None:
    good = _unit_with_runnable_exec_start(tmp_path, UNIT.read_text())
    result = subprocess.run(["systemd-analyze", "verify", str(good)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if good.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr

    # The check has teeth: the same systemd does name a unit with a misspelt directive.
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = _unit_with_runnable_exec_start(bad_dir, UNIT.read_text().replace("ProtectClock=", "ProtectClok="))
    result = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "ProtectClok" in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (Debian package: systemd)")
def test_systemd_rates_the_sandbox_exposure_at_most_3_of_10(tmp_path: Path) -> None:
    unit = _unit_with_runnable_exec_start(tmp_path, UNIT.read_text())
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", str(unit)],
                            capture_output=True, text=True, timeout=60)
    if "unrecognized option" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline/--threshold (needs systemd 250+)")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
