"""packaging/build-deb.sh builds a deb for real: its metadata, its files, and the extracted program running.

Expected demo events are the exchanges in shipper/data/sample.pcap as tshark 4.0 dissects them
(`tshark -r sample.pcap -Y http.request` and `-Y dns.flags.response==1`), listed by hand below.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.version import __version__

REPO = Path(__file__).resolve().parent.parent
PREFIX = "opt/packetshipper"

SAMPLE_HTTP = [("GET", "/", 200), ("GET", "/data.json", 200), ("GET", "/missing.html", 404),
               ("HEAD", "/", 200), ("POST", "/form", 501)]
SAMPLE_DNS = [("www.example.com", "A", "NOERROR"), ("api.example.com", "AAAA", "NOERROR"),
              ("example.com", "MX", "NOERROR"), ("example.com", "TXT", "NOERROR"),
              ("nosuch.example.com", "A", "NXDOMAIN"), ("www.example.com", "A", "NOERROR")]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed (Debian package: dpkg)"),
]


def system_python() -> str | None:
    """Debian's interpreter when it can build the venv: what a real deb is built with."""
    probe = "import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))"
    if os.path.exists("/usr/bin/python3") and subprocess.run(["/usr/bin/python3", "-c", probe]).returncode == 0:
        return "/usr/bin/python3"
    return None


def clean_env() -> dict[str, str]:
    """No PYTHONPATH or venv of the test run may leak into the packaged interpreter."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    python = system_python()
    options = ["--python", python] if python else ["--python", sys.executable, "--allow-foreign-python"]
    result = subprocess.run([str(REPO / "packaging" / "build-deb.sh"), "--out", str(out), *options],
                            capture_output=True, text=True, timeout=600, env=clean_env())
    assert result.returncode == 0, result.stderr[-4000:]
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built.parent == out and built.exists()
    return built


@pytest.fixture(scope="module")
def extracted(deb: Path) -> Iterator[Path]:
    # World-traversable, unlike pytest's tmp dirs, so the live test can run it as `nobody`.
    root = Path(tempfile.mkdtemp(prefix="packetshipper-deb-"))
    try:
        root.chmod(0o755)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
        yield root
    finally:
        shutil.rmtree(root)


def packaged(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The packaged console script, run by the packaged venv's interpreter (its shebang names /opt)."""
    venv = root / PREFIX
    return subprocess.run([str(venv / "bin" / "python"), str(venv / "bin" / "packetshipper"), *args],
                          capture_output=True, text=True, timeout=120, env=clean_env(), **kwargs)


def deb_contents(deb: Path) -> dict[str, tuple[str, str]]:
    """path -> (mode string, symlink target or '') from `dpkg-deb --contents`."""
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True)
    entries = {}
    for line in listing.stdout.splitlines():
        mode, _owner, _size, _date, _time, rest = line.split(None, 5)
        path, _, target = rest.partition(" -> ")
        entries[path.removeprefix(".").rstrip("/") or "/"] = (mode, target)
    return entries


def test_file_name_and_control_fields(deb: Path) -> None:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    assert deb.name == f"packetshipper_{__version__}_{arch}.deb"
    fields = subprocess.run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture", "Depends"],
                            capture_output=True, text=True, check=True).stdout
    control = dict(line.split(": ", 1) for line in fields.splitlines())
    assert control["Package"] == "packetshipper"
    assert control["Version"] == __version__
    assert control["Architecture"] == arch
    if system_python():
        minor = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.version_info[1])"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert control["Depends"] == f"python3.{minor}"


def test_installs_the_venv_symlink_config_unit_and_directories(deb: Path) -> None:
    files = deb_contents(deb)
    assert files["/usr/bin/packetshipper"] == ("lrwxrwxrwx", "/opt/packetshipper/bin/packetshipper")
    assert files["/opt/packetshipper/bin/packetshipper"][0] == "-rwxr-xr-x"
    assert files["/etc/packetshipper/packetshipper.yml"][0] == "-rw-r-----"
    assert "/etc/packetshipper/packetshipper.reference.yml" in files
    assert "/usr/lib/systemd/system/packetshipper.service" in files
    assert "/usr/share/doc/packetshipper/copyright" in files
    assert files["/var/lib/packetshipper"][0] == "drwxr-x---"
    assert files["/var/log/packetshipper"][0] == "drwxr-x---"
    # pcapy-ng's wheel brings its own libpcap: no libpcap package needed.
    assert any("/pcapy_ng.libs/libpcap" in path for path in files)
    assert any(path.endswith("/site-packages/packetshipper/cli.py") for path in files)


def test_config_files_are_conffiles_and_scripts_never_start_the_service(deb: Path, tmp_path: Path) -> None:
    control = tmp_path / "DEBIAN"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(control)], check=True)
    assert (control / "conffiles").read_text().split() == [
        "/etc/packetshipper/packetshipper.yml", "/etc/packetshipper/packetshipper.reference.yml"]
    for name in ("postinst", "prerm", "postrm"):
        script = control / name
        assert os.access(script, os.X_OK), name
        assert subprocess.run(["sh", "-n", str(script)]).returncode == 0, name
        text = script.read_text()
        assert "systemctl start" not in text and "systemctl enable" not in text, name
    assert "useradd --system" in (control / "postinst").read_text()


def test_packaged_files_name_the_installed_paths_not_the_build_tree(extracted: Path) -> None:
    venv = extracted / PREFIX
    assert (venv / "bin" / "packetshipper").read_text().splitlines()[0] == "#!/opt/packetshipper/bin/python"
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        if line.startswith("command"):  # written by Python 3.13+ and Debian's 3.11
            assert line.endswith(" -m venv /opt/packetshipper"), line
    # Byte code compiled at build time names the installed source file in tracebacks.
    probe = ("import marshal, sys, importlib.util as u, packetshipper.cli as m;"
             "d = open(u.cache_from_source(m.__file__), 'rb').read();"
             "print(sys.version_info[1], marshal.loads(d[16:]).co_filename)")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                            env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    minor, filename = result.stdout.split()
    assert filename == f"/opt/packetshipper/lib/python3.{minor}/site-packages/packetshipper/cli.py"


def test_extracted_program_reports_its_version_from_the_bundled_venv(extracted: Path) -> None:
    result = packaged(extracted, "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"packetshipper version {__version__} ")
    where = subprocess.run([str(extracted / PREFIX / "bin" / "python"), "-c",
                            "import packetshipper, pcapy; print(packetshipper.__file__); print(pcapy.__file__)"],
                           capture_output=True, text=True, env=clean_env(), timeout=60)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert line.startswith(str(extracted / PREFIX)), line


def test_extracted_demo_decodes_the_bundled_sample(extracted: Path) -> None:
    result = packaged(extracted, "demo", cwd=extracted)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    http = [(e["http"]["request"]["method"], e["url"]["path"], e["http"]["response"]["status_code"])
            for e in events if e["type"] == "http"]
    dns = [(e["dns"]["question"]["name"], e["dns"]["question"]["type"], e["dns"]["response_code"])
           for e in events if e["type"] == "dns"]
    assert sorted(http) == sorted(SAMPLE_HTTP)
    assert sorted(dns) == sorted(SAMPLE_DNS)
    assert sum(e["type"] == "icmp" for e in events) == 2


def test_extracted_configs_pass_test_config(extracted: Path) -> None:
    for name in ("packetshipper.yml", "packetshipper.reference.yml"):
        result = packaged(extracted, "-c", str(extracted / "etc" / "packetshipper" / name), "test", "config")
        assert (result.returncode, result.stdout.strip()) == (0, "Config OK"), result.stderr


def _runs_as_nobody(python: Path) -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv to drop to an unprivileged user"
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                            str(python), "-c", "pass"], capture_output=True, text=True, timeout=60)
    return None if probe.returncode == 0 else f"nobody cannot run {python}: {probe.stderr.strip()}"


def _live_capture_as_nobody(extracted: Path, out: Path, port: int, caps: bool) -> tuple[int, str]:
    """The unit's privilege model without systemd: user nobody, optionally with the ambient capture caps."""
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--no-new-privs"]
    if caps:
        drop += ["--inh-caps=-all,+net_raw,+net_admin", "--ambient-caps=-all,+net_raw,+net_admin",
                 "--bounding-set=-all,+net_raw,+net_admin"]
    venv = extracted / PREFIX
    proc = subprocess.Popen(
        [*drop, "--", str(venv / "bin" / "python"), str(venv / "bin" / "packetshipper"), "-i", "lo",
         "--bpf", f"udp port {port}", "-E", f"output.file.path={out}", "-E", "output.file.filename=live", "-e"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out, env=clean_env())
    head: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            head.append(line)
            if "reading interface lo" in line:
                time.sleep(0.3)  # let libpcap settle before traffic starts
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                    for _ in range(3):
                        client.sendto(b"ping", ("127.0.0.1", port))
                time.sleep(0.5)
                proc.terminate()
                break
        _, tail = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, "".join(head) + tail


@pytest.mark.live
def test_unprivileged_user_captures_with_only_the_units_ambient_capabilities(extracted: Path) -> None:
    reason = _runs_as_nobody(extracted / PREFIX / "bin" / "python")
    if reason:
        pytest.skip(reason)
    out = Path(tempfile.mkdtemp(prefix="packetshipper-live-"))
    try:
        out.chmod(0o777)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]

        status, log = _live_capture_as_nobody(extracted, out, port, caps=False)
        assert status == 1 and "capture error" in log, log

        status, log = _live_capture_as_nobody(extracted, out, port, caps=True)
        assert status == 0, log
        events = [json.loads(line) for line in (out / "live").read_text().splitlines()]
        # Final reports only: a capture that straddles a 10 s period boundary also reports the flow midway.
        flows = [e for e in events if e["type"] == "flow" and e["flow"]["final"]
                 and e["destination"].get("port") == port]
        assert len(flows) == 1 and flows[0]["source"]["packets"] == 3, events
    finally:
        shutil.rmtree(out)
