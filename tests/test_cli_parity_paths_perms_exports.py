"""Packetbeat's command-line edges: --path.home/config/data/logs, --strict.perms, `export ilm-policy` and
`export index-pattern`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HTTP_POST = Path(__file__).parent / "pcaps" / "packetbeat" / "http_post.pcap"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _config(path: Path, mode: int = 0o644, text: str = "output.console: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


# --- --strict.perms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666, 0o620])
def test_a_config_others_may_write_to_is_refused_in_one_line(mode: int, tmp_path: Path) -> None:
    config = _config(tmp_path / "packetshipper.yml", mode)
    result = _cli("test", "config", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"packetshipper: config error: config file ('{config}') can only be writable "
                                    "by the owner but the permissions are ")
    assert f"chmod go-w {config}" in result.stderr


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o400, 0o755])
def test_a_config_only_its_owner_may_write_to_loads(mode: int, tmp_path: Path) -> None:
    config = _config(tmp_path / "packetshipper.yml", mode)
    result = _cli("test", "config", "-c", str(config), cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr


@pytest.mark.parametrize("flag", [["--strict.perms=false"], ["--strict.perms", "false"]])
def test_strict_perms_false_loads_it_anyway(flag: list[str], tmp_path: Path) -> None:
    config = _config(tmp_path / "packetshipper.yml", 0o666)
    result = _cli("test", "config", "-c", str(config), *flag, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the file to another user needs root")
def test_a_config_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path / "packetshipper.yml")
    os.chown(config, 65534, 65534)  # nobody
    result = _cli("test", "config", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"packetshipper: config error: config file ('{config}') must be owned by the "
                                    "user identifier (uid=0) or root")


# --- --path.* ---------------------------------------------------------------------------------------------


def test_the_config_is_looked_for_in_path_config_and_a_relative_c_is_relative_to_it(tmp_path: Path) -> None:
    _config(tmp_path / "etc" / "packetshipper.yml", text="output.console: {}\nname: from-path-config\n")
    _config(tmp_path / "etc" / "other.yml", text="output.console: {}\nname: from-other\n")
    found = yaml.safe_load(_cli("export", "config", "--path.config", "etc", cwd=tmp_path).stdout)
    assert found["name"] == "from-path-config" and found["path"]["config"] == "etc"
    other = yaml.safe_load(_cli("export", "config", "--path.config", "etc", "-c", "other.yml", cwd=tmp_path).stdout)
    assert other["name"] == "from-other"


def test_path_home_is_the_base_of_data_and_logs_and_a_flag_wins_over_the_file(tmp_path: Path) -> None:
    _config(tmp_path / "home" / "packetshipper.yml", text="output.console: {}\npath.logs: /from/the/file\n")
    paths = yaml.safe_load(_cli("export", "config", "--path.home", "home", cwd=tmp_path).stdout)["path"]
    assert paths == {"home": "home", "config": None, "data": "home/data", "logs": "home/logs"}
    paths = yaml.safe_load(_cli("export", "config", "--path.home", "home", "--path.logs", "/var/log/x",
                                "--path.data", "/var/lib/x", cwd=tmp_path).stdout)["path"]
    assert paths == {"home": "home", "config": None, "data": "/var/lib/x", "logs": "/var/log/x"}


def test_a_run_logs_into_path_logs(tmp_path: Path) -> None:
    logs = tmp_path / "logs-here"
    result = _cli("-I", str(HTTP_POST), "-t", "--path.logs", str(logs), "-E", "logging.to_files=true",
                  "-E", f"output.file.path={tmp_path / 'out'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log_text = (logs / "packetshipper").read_text()
    assert "done: 8 packets, 2 events" in log_text


# --- export ilm-policy / index-pattern ----------------------------------------------------------------------


def _export(*args: str, cwd: Path) -> Any:
    result = _cli("export", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_export_ilm_policy_prints_beats_default_policy(tmp_path: Path) -> None:
    # Beats' default: roll over at 50gb per primary shard or after 30 days, never delete.
    assert _export("ilm-policy", cwd=tmp_path) == {
        "policy": {"phases": {"hot": {"actions": {"rollover": {"max_primary_shard_size": "50gb", "max_age": "30d"}}}}}}


@pytest.mark.parametrize(("overrides", "title"), [((), "packetshipper-*"),
                                                   (("-E", "packetshipper.compat.packetbeat=8.15.0"), "packetbeat-*")])
def test_export_index_pattern_names_the_indices_and_their_fields(overrides: tuple[str, ...], title: str,
                                                                 tmp_path: Path) -> None:
    pattern = _export("index-pattern", *overrides, cwd=tmp_path)
    assert (pattern["id"], pattern["type"], pattern["attributes"]["title"]) == (title, "index-pattern", title)
    assert pattern["attributes"]["timeFieldName"] == "@timestamp"
    fields = {field["name"]: field for field in json.loads(pattern["attributes"]["fields"])}
    assert fields["@timestamp"]["type"] == "date"
    assert fields["http.request.method"]["type"] == "string" and fields["http.request.method"]["aggregatable"]
    assert fields["source.ip"]["type"] == "ip" and fields["destination.port"]["type"] == "number"
    # Each field is what the index template maps it as.
    template = _export("template", *overrides, cwd=tmp_path)
    properties = template["template"]["mappings"]["properties"]
    for name, field in fields.items():
        node: Any = {"properties": properties}
        for part in name.split("."):
            node = node["properties"][part]
        assert field["esTypes"] == [node["type"]], name
        assert field["aggregatable"] == (node["type"] != "text"), name
