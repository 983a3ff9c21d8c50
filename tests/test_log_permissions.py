"""Log files get `logging.files.permissions` (default 0600) whatever the umask (issue 7, part 6)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packetshipper.config import validate_config
from packetshipper.logs import setup_logging
from packetshipper.settings import ConfigError

DNS_PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0)
    os.umask(previous)
    yield
    os.umask(previous)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    setup_logging()  # back to stderr, closing the file handlers the test opened


def _logging(tmp_path: Path, **files: object) -> dict[str, object]:
    raw = {"logging": {"to_files": True, "files": {"path": str(tmp_path / "logs"), **files}}}
    return validate_config(raw)["logging"]


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o777])
def test_the_default_mode_is_0600_whatever_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    setup_logging(_logging(tmp_path))
    logging.getLogger("packetshipper").info("hello")
    assert _mode(tmp_path / "logs" / "packetshipper") == 0o600


@pytest.mark.parametrize(("setting", "mode"), [(0o640, 0o640), ("0644", 0o644), (0o400, 0o400), (0, 0)])
def test_the_configured_mode_is_applied_exactly(tmp_path: Path, umask: None, setting: object, mode: int) -> None:
    os.umask(0o077)  # would strip group/other bits from a plain open()
    setup_logging(_logging(tmp_path, permissions=setting))
    assert _mode(tmp_path / "logs" / "packetshipper") == mode


def test_an_existing_file_with_a_wider_mode_is_narrowed(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    existing = tmp_path / "logs" / "packetshipper"
    existing.write_text("old line\n")
    existing.chmod(0o666)
    setup_logging(_logging(tmp_path))
    assert _mode(existing) == 0o600
    assert existing.read_text().startswith("old line\n")  # appended to, not replaced


def test_rotated_files_keep_the_mode(tmp_path: Path, umask: None) -> None:
    os.umask(0)
    setup_logging(_logging(tmp_path, rotateeverybytes=1024, keepfiles=3, permissions=0o640))
    log = logging.getLogger("packetshipper")
    for i in range(100):
        log.info("line %d %s", i, "x" * 100)
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["packetshipper", "packetshipper.1", "packetshipper.2"]
    assert {_mode(f) for f in files} == {0o640}


@pytest.mark.parametrize("value", [0o1000, -1, "rw-r--r--", "0999", 1.5])
def test_a_bad_mode_is_a_config_error(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        _logging(tmp_path, permissions=value)
    assert caught.value.path == "logging.files.permissions"


def test_an_unwritable_log_directory_is_one_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = validate_config({"logging": {"to_files": True, "files": {"path": str(blocker / "logs")}}})["logging"]
    with pytest.raises(ConfigError, match="logging.files.path: cannot open the log file"):
        setup_logging(config)


@pytest.mark.parametrize(("extra", "mode"), [([], 0o600), (["-E", "logging.files.permissions=0640"], 0o640)])
def test_a_run_writes_its_log_file_with_the_mode(tmp_path: Path, extra: list[str], mode: int) -> None:
    logs = tmp_path / "logs"
    result = subprocess.run(
        [sys.executable, "-m", "packetshipper.cli", "-I", str(DNS_PCAP), "-t", "-E", f"output.file.path={tmp_path}",
         "-E", "logging.to_files=true", "-E", f"logging.files.path={logs}", *extra],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, preexec_fn=lambda: os.umask(0))
    assert result.returncode == 0, result.stderr
    log_file = logs / "packetshipper"
    assert f"reading file {DNS_PCAP}" in log_file.read_text()
    assert _mode(log_file) == mode
