"""packaging/packetshipper.yml, installed as /etc/packetshipper/packetshipper.yml: valid, Packetbeat's defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PACKAGED = REPO / "packaging" / "packetshipper.yml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def effective_config(path: Path) -> dict[str, Any]:
    result = cli("-c", str(path), "export", "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_packaged_config_passes_test_config() -> None:
    result = cli("-c", str(PACKAGED), "test", "config")
    assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr


def test_packaged_config_ships_to_elasticsearch_on_localhost_9200_like_packetbeat() -> None:
    config = effective_config(PACKAGED)
    assert list(config["output"]) == ["elasticsearch"]
    assert config["output"]["elasticsearch"]["hosts"] == ["localhost:9200"]
    assert config["packetshipper"]["interfaces"]["device"] == "any"


def test_packaged_config_captures_what_the_repository_default_captures() -> None:
    packaged, repository = effective_config(PACKAGED), effective_config(REPO / "packetshipper.yml")
    assert packaged["packetshipper"] == repository["packetshipper"]


def test_packaged_config_points_log_files_at_var_log() -> None:
    raw = yaml.safe_load(PACKAGED.read_text())
    assert raw["logging.files.path"] == "/var/log/packetshipper"


def test_reference_config_shipped_alongside_passes_test_config() -> None:
    result = cli("-c", str(REPO / "packetshipper.reference.yml"), "test", "config")
    assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr
