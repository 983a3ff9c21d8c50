"""`packetshipper --help` shows the run flags Packetbeat users type without `run`; `--version` (issue 7, part 8)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packetshipper.version import __version__

DNS_PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"
RUN_FLAGS = ["-c", "-e", "-d", "-E", "-I", "-i", "-t", "-l"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="packetshipper-help-") as workdir:
        return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=workdir)


def _options(help_text: str) -> set[str]:
    """The flags the help text documents: those starting an entry of its option list."""
    return {match.group(1) for match in re.finditer(r"^\s{2}(-{1,2}[A-Za-z][\w-]*)", help_text, re.MULTILINE)}


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["run", "--help"], ["-e", "--help"]])
def test_help_lists_every_run_flag(argv: list[str]) -> None:
    result = _cli(*argv)
    assert result.returncode == 0, result.stderr
    assert set(RUN_FLAGS) <= _options(result.stdout), result.stdout


def test_top_level_help_also_lists_the_commands_and_says_run_is_the_default() -> None:
    text = _cli("--help").stdout
    for command in ("run", "demo", "devices", "version", "modules", "test", "export", "setup"):
        assert re.search(rf"^\s+{command}\s", text, re.MULTILINE), command
    assert "Without a command, `run` is meant" in text
    assert "--version" in _options(text)


@pytest.mark.parametrize("argv", [["--version"], ["-e", "--version"], ["-c", "x.yml", "--version"]])
def test_version_flag_prints_the_version(argv: list[str]) -> None:
    result = _cli(*argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout == _cli("version").stdout
    assert result.stdout.startswith(f"packetshipper version {__version__} (python ")


def test_packetbeat_style_flags_without_run_do_run(tmp_path: Path) -> None:
    config = tmp_path / "x.yml"
    config.write_text(f"packetshipper.protocols: [{{type: dns}}]\noutput.file:\n  path: {tmp_path}\n  filename: events\n")
    result = _cli("-e", "-c", str(config), "-I", str(DNS_PCAP), "-t")
    assert result.returncode == 0, result.stderr
    assert "reading file" in result.stderr  # -e: the log is on stderr
    assert len((tmp_path / "events").read_text().splitlines()) == 2  # the DNS transaction and its flow


@pytest.mark.parametrize("argv", [["--nope"], ["run", "--nope"], ["test", "nothing"], ["-l"]])
def test_a_usage_mistake_is_one_line_and_exit_1(argv: list[str]) -> None:
    result = _cli(*argv)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("packetshipper: usage error: "), result.stderr
    assert "--help" in lines[0]
