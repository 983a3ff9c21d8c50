"""`packetshipper keystore create|add|list|remove`: values stored under KEY stand for `${KEY}` in the config
(before the environment); the store is readable by its owner only, and refused otherwise."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def _cli(*args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, input=stdin, env={**os.environ, **(env or {})})


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_add_list_remove_and_the_value_resolves_in_the_config(tmp_path: Path) -> None:
    store = tmp_path / "packetshipper.keystore"
    _ok(_cli("keystore", "create", cwd=tmp_path))
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    _ok(_cli("keystore", "add", "OUT_DIR", "--stdin", cwd=tmp_path, stdin=f"{tmp_path}/from-keystore\n"))
    _ok(_cli("keystore", "add", "OTHER", cwd=tmp_path, stdin="x"))
    assert _ok(_cli("keystore", "list", cwd=tmp_path)).split() == ["OTHER", "OUT_DIR"]
    assert "from-keystore" not in _ok(_cli("keystore", "list", cwd=tmp_path))  # keys, never values
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    (tmp_path / "packetshipper.yml").write_text("output.file.path: ${OUT_DIR}\n")
    # the keystore comes before the environment
    exported = yaml.safe_load(_ok(_cli("export", "config", cwd=tmp_path, env={"OUT_DIR": "/from/env"})))
    assert exported["output"]["file"]["path"] == f"{tmp_path}/from-keystore"

    _ok(_cli("keystore", "remove", "OUT_DIR", cwd=tmp_path))
    assert _ok(_cli("keystore", "list", cwd=tmp_path)).split() == ["OTHER"]
    exported = yaml.safe_load(_ok(_cli("export", "config", cwd=tmp_path, env={"OUT_DIR": "/from/env"})))
    assert exported["output"]["file"]["path"] == "/from/env"


def test_the_keystore_lives_in_path_config(tmp_path: Path) -> None:
    _ok(_cli("keystore", "create", "--path.config", "etc", cwd=tmp_path))
    assert (tmp_path / "etc" / "packetshipper.keystore").exists()
    _ok(_cli("keystore", "add", "K", "--path.config", "etc", cwd=tmp_path, stdin="v"))
    (tmp_path / "etc" / "packetshipper.yml").write_text("output.file.path: /x/${K}\n")
    exported = yaml.safe_load(_ok(_cli("export", "config", "--path.config", "etc", cwd=tmp_path)))
    assert exported["output"]["file"]["path"] == "/x/v"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_keystore_others_may_read_is_refused_in_one_line(mode: int, tmp_path: Path) -> None:
    _ok(_cli("keystore", "create", cwd=tmp_path))
    os.chmod(tmp_path / "packetshipper.keystore", mode)
    for args in (("keystore", "list"), ("test", "config", "-E", "output.console.pretty=true")):
        (tmp_path / "packetshipper.yml").write_text("output.console: {}\n")
        result = _cli(*args, cwd=tmp_path)
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert result.stderr.startswith("packetshipper: config error: keystore ./packetshipper.keystore may be read "
                                        "or written by others")


@pytest.mark.parametrize(("args", "stdin", "reason"), [
    (("keystore", "create"), "", "already exists"),
    (("keystore", "add", "A"), "again", "exists already"),
    (("keystore", "add", "no good"), "v", "use 1 to 256 letters, digits or _"),
    (("keystore", "remove", "B"), "", "has no key B"),
])
def test_keystore_mistakes_are_one_line(args: tuple[str, ...], stdin: str, reason: str, tmp_path: Path) -> None:
    _ok(_cli("keystore", "create", cwd=tmp_path))
    _ok(_cli("keystore", "add", "A", cwd=tmp_path, stdin="first"))
    result = _cli(*args, cwd=tmp_path, stdin=stdin)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
    assert _ok(_cli("keystore", "list", cwd=tmp_path)).split() == ["A"]  # nothing changed


def test_force_replaces(tmp_path: Path) -> None:
    _ok(_cli("keystore", "create", cwd=tmp_path))
    _ok(_cli("keystore", "add", "A", cwd=tmp_path, stdin="first"))
    _ok(_cli("keystore", "add", "A", "--force", cwd=tmp_path, stdin="second"))
    (tmp_path / "packetshipper.yml").write_text("output.file.path: /${A}\n")
    assert yaml.safe_load(_ok(_cli("export", "config", cwd=tmp_path)))["output"]["file"]["path"] == "/second"
    _ok(_cli("keystore", "create", "--force", cwd=tmp_path))
    assert _ok(_cli("keystore", "list", cwd=tmp_path)) == ""


def test_a_damaged_keystore_is_named(tmp_path: Path) -> None:
    store = tmp_path / "packetshipper.keystore"
    store.write_text("{not json")
    os.chmod(store, 0o600)
    result = _cli("keystore", "list", cwd=tmp_path)
    assert result.returncode == 1 and "is damaged" in result.stderr and result.stderr.count("\n") == 1
