"""`packetshipper setup` as Packetbeat's: with no flag it sets up everything it can (here: the lifecycle
policy and the index template in Elasticsearch), and says what it does not load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packetshipper.version import __version__
from servers.es_server import EsServer


def _setup(es: EsServer, *flags: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", "setup", *flags,
                           "-E", f"output.elasticsearch.hosts=['{es.url}']"],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_setup_with_no_flag_installs_the_policy_and_the_template(tmp_path: Path) -> None:
    with EsServer() as es:
        result = _setup(es, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "max_primary_shard_size" in str(es.ilm_policies["packetshipper"])
        template = es.templates[f"packetshipper-{__version__}"]
    assert template["index_patterns"] == [f"packetshipper-{__version__}"]
    assert template["template"]["settings"]["index"]["lifecycle"]["name"] == "packetshipper"
    lines = result.stdout.splitlines()
    assert lines[0] == "ILM policy packetshipper: loaded"
    assert f"Index template packetshipper-{__version__}: loaded" in lines
    assert any(line.startswith("Ingest pipelines: none to load") for line in lines)
    assert any(line.startswith("Dashboards: not loaded") for line in lines)


@pytest.mark.parametrize(("flag", "installs"), [("--index-management", True), ("--pipelines", False),
                                                ("--dashboards", False)])
def test_setup_with_a_flag_does_only_that(flag: str, installs: bool, tmp_path: Path) -> None:
    with EsServer() as es:
        result = _setup(es, flag, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert bool(es.templates) is installs and bool(es.ilm_policies) is installs
    assert ("Ingest pipelines" in result.stdout) is (flag == "--pipelines")
    assert ("Dashboards" in result.stdout) is (flag == "--dashboards")


def test_setup_says_in_one_line_that_elasticsearch_is_unreachable(tmp_path: Path) -> None:
    with EsServer() as es:
        url = es.url
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "setup", "-E",
                             f"output.elasticsearch.hosts=['{url}']", "-E", "output.elasticsearch.max_retries=0"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("packetshipper: output error: ")


def test_minus_n_runs_everything_but_the_output(tmp_path: Path) -> None:
    pcap = Path(__file__).parent / "pcaps" / "packetbeat" / "http_post.pcap"  # one HTTP POST, one flow
    with EsServer() as es:
        args = ["-I", str(pcap), "-t", "-E", f"output.elasticsearch.hosts=['{es.url}']"]
        quiet = subprocess.run([sys.executable, "-m", "packetshipper.cli", *args, "-N"], capture_output=True,
                               text=True, timeout=120, cwd=tmp_path)
        sent_with_n = es.bulk_requests
        loud = subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        sent_without = es.bulk_requests
    assert quiet.returncode == 0 == loud.returncode, quiet.stderr + loud.stderr
    assert sent_with_n == 0 < sent_without  # the same run without -N does reach the server
    assert "publishing is disabled (-N)" in quiet.stderr
    assert "done: 8 packets, 2 events" in quiet.stderr and "unsent 0: publishing disabled (-N)" in quiet.stderr
