"""packaging/build-rpm.sh builds an rpm for real with rpmbuild: its metadata, its files, the program running."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packetshipper.version import __version__

REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("rpm2archive") is None,
                       reason="rpmbuild/rpm2archive not installed (Debian package: rpm)"),
]


def build_python() -> str:
    probe = "import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))"
    if os.path.exists("/usr/bin/python3") and subprocess.run(["/usr/bin/python3", "-c", probe]).returncode == 0:
        return "/usr/bin/python3"
    return sys.executable


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def rpm_query(package: Path, *args: str) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(package)], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.fixture(scope="module")
def rpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rpm")
    result = subprocess.run([str(REPO / "packaging" / "build-rpm.sh"), "--out", str(out), "--python", build_python()],
                            capture_output=True, text=True, timeout=600, env=clean_env())
    assert result.returncode == 0, result.stderr[-4000:]
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built.parent == out and built.exists()
    return built


def test_name_version_arch_and_interpreter_requirement(rpm: Path) -> None:
    machine = os.uname().machine
    assert rpm.name == f"packetshipper-{__version__}-1.{machine}.rpm"
    assert rpm_query(rpm, "--qf", "%{NAME} %{VERSION} %{ARCH}") == f"packetshipper {__version__} {machine}"
    interpreter = subprocess.run([build_python(), "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    requires = rpm_query(rpm, "--requires").split("\n")
    assert interpreter in requires
    # No automatic requirements on the libraries bundled inside the wheels.
    assert not [r for r in requires if ".so" in r]


def test_files_owners_and_config(rpm: Path) -> None:
    listing = rpm_query(rpm, "--qf", "[%{FILENAMES} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEMODES:perms}\n]")
    files = {path: rest for path, _, rest in (line.partition(" ") for line in listing.splitlines())}
    assert files["/usr/bin/packetshipper"].endswith("lrwxrwxrwx")
    assert files["/opt/packetshipper/bin/packetshipper"] == "root root -rwxr-xr-x"
    assert files["/etc/packetshipper/packetshipper.yml"] == "root packetshipper -rw-r-----"
    assert files["/var/lib/packetshipper"] == "packetshipper packetshipper drwxr-x---"
    assert files["/var/log/packetshipper"] == "packetshipper packetshipper drwxr-x---"
    assert "/usr/lib/systemd/system/packetshipper.service" in files
    assert rpm_query(rpm, "--configfiles").split() == [
        "/etc/packetshipper/packetshipper.reference.yml", "/etc/packetshipper/packetshipper.yml"]


def test_scripts_create_the_user_and_never_start_the_service(rpm: Path) -> None:
    scripts = rpm_query(rpm, "--scripts")
    assert "useradd --system" in scripts
    assert "systemctl start" not in scripts and "systemctl enable" not in scripts


def test_extracted_rpm_runs_its_bundled_program(rpm: Path, tmp_path: Path) -> None:
    with rpm.open("rb") as payload:
        archive = subprocess.run(["rpm2archive", "-"], stdin=payload, capture_output=True, check=True, timeout=120)
    subprocess.run(["tar", "-xz", "-C", str(tmp_path)], input=archive.stdout, check=True, timeout=120)
    venv = tmp_path / "opt" / "packetshipper"
    result = subprocess.run([str(venv / "bin" / "python"), str(venv / "bin" / "packetshipper"), "-c",
                             str(tmp_path / "etc" / "packetshipper" / "packetshipper.yml"), "test", "config"],
                            capture_output=True, text=True, env=clean_env(), timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr
    result = subprocess.run([str(venv / "bin" / "python"), str(venv / "bin" / "packetshipper"), "version"],
                            capture_output=True, text=True, env=clean_env(), timeout=120)
    assert result.stdout.startswith(f"packetshipper version {__version__} "), result.stderr
