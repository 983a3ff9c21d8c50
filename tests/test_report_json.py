"""`packetshipper report --json` of the bundled sample, value by value against tshark and against figures
this test computes itself from the events the shipper publishes."""

from __future__ import annotations

import collections
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packetshipper.report.aggregate import BoundedCounter, LatencySample, percentile
from packetshipper.testing import run_pcap

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
ALL_MODULES = {"packetshipper": {"protocols": [{"type": "http"}, {"type": "dns"}, {"type": "icmp"}],
                                 "flows": {"period": -1}}}

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _tshark(*args: str) -> list[str]:
    out = subprocess.run(["tshark", "-r", str(SAMPLE), *args], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("report")
    result = _cli("report", "-I", str(SAMPLE), "--json", "sample.json", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads((work / "sample.json").read_text())


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return run_pcap(str(SAMPLE), ALL_MODULES).events


@needs_tshark
def test_packets_and_bytes_match_tshark(report: dict[str, Any]) -> None:
    lengths = [int(x) for x in _tshark("-T", "fields", "-e", "frame.len")]
    assert report["packets"] == len(lengths) == 83
    assert report["bytes"] == sum(lengths)
    assert report["capture"]["link_type"]["number"] == 1


@needs_tshark
def test_flows_per_transport_match_tshark_conversations(report: dict[str, Any]) -> None:
    def conversations(kind: str) -> int:
        return sum(1 for line in _tshark("-q", "-z", f"conv,{kind}") if "<->" in line)

    transports = {row["transport"]: row["flows"] for row in report["transports"]}
    assert transports["tcp"] == conversations("tcp")
    assert transports["udp"] == conversations("udp")
    icmp_echo_ids = set(_tshark("-Y", "icmp", "-T", "fields", "-e", "icmp.ident"))
    assert transports["icmp"] == len(icmp_echo_ids)
    assert report["flows"] == sum(transports.values())


@needs_tshark
def test_top_talkers_match_tshark(report: dict[str, Any]) -> None:
    talkers = {row["ip"]: row for row in report["top_talkers"]}
    for host in ("127.0.0.1", "127.0.0.53"):
        lengths = [int(x) for x in _tshark("-Y", f"ip.addr=={host}", "-T", "fields", "-e", "frame.len")]
        assert talkers[host]["packets"] == len(lengths)
        assert talkers[host]["bytes"] == sum(lengths)
    assert report["top_talkers"][0]["ip"] == "127.0.0.1"


@needs_tshark
def test_transactions_per_protocol_match_tshark(report: dict[str, Any]) -> None:
    assert report["transactions"]["dns"] == len(_tshark("-Y", "dns.flags.response == 1"))
    assert report["transactions"]["http"] == len(_tshark("-Y", "http.response"))
    assert report["transactions"]["icmp"] == len(_tshark("-Y", "icmp.type == 0"))


def test_transactions_errors_and_services_match_the_events(report: dict[str, Any], events: list[dict[str, Any]]) -> None:
    transactions = [e for e in events if e["type"] != "flow"]
    assert report["events"] == len(events)
    assert report["flows"] == sum(1 for e in events if e["type"] == "flow")
    assert report["transactions"] == dict(collections.Counter(e["type"] for e in transactions))

    def failed(event: dict[str, Any]) -> bool:
        if event["type"] == "http":
            return event["http"]["response"]["status_code"] >= 400
        if event["type"] == "dns":
            return event["dns"]["response_code"] != "NOERROR"
        return event["status"] != "OK"

    errors = collections.Counter(e["type"] for e in transactions if failed(e))
    assert report["errors"] == {kind: errors.get(kind, 0) for kind in report["transactions"]}

    durations: dict[str, list[float]] = collections.defaultdict(list)
    for event in transactions:
        server = event["server"]
        where = f"{server['ip']}:{server['port']}" if "port" in server else server["ip"]
        durations[f"{event['type']} {where}"].append(event["event"]["duration"] / 1e6)
    services = {row["service"]: row for row in report["services"]}
    assert set(services) == set(durations)
    for name, values in durations.items():
        ordered = sorted(values)
        rank = {q: ordered[math.ceil(q * len(ordered)) - 1] for q in (0.5, 0.9, 0.99)}
        figures = services[name]["response_ms"]
        assert figures["p50"] == pytest.approx(rank[0.5], abs=1e-3)
        assert figures["p99"] == pytest.approx(rank[0.99], abs=1e-3)
        assert figures["max"] == pytest.approx(max(values), abs=1e-3)
        assert services[name]["transactions"] == len(values)


def test_slowest_and_error_rows_name_flows_that_exist(report: dict[str, Any], events: list[dict[str, Any]]) -> None:
    community_ids = {e["network"]["community_id"] for e in events}
    slowest = report["slowest"]
    assert len(slowest) == 10
    assert [row["duration_ms"] for row in slowest] == sorted((row["duration_ms"] for row in slowest), reverse=True)
    assert all(row["community_id"] in community_ids for row in slowest)
    kinds = {row["kind"]: row for row in report["error_kinds"]}
    assert set(kinds) == {"HTTP 4xx", "HTTP 5xx", "DNS NXDOMAIN"}
    assert kinds["DNS NXDOMAIN"]["example"]["what"].endswith("nosuch.example.com")
    assert all(row["example"]["community_id"] in community_ids for row in kinds.values())


def test_dns_and_http_tops(report: dict[str, Any], events: list[dict[str, Any]]) -> None:
    names = collections.Counter(e["dns"]["question"]["name"] for e in events if e["type"] == "dns")
    assert {row["name"]: row["count"] for row in report["dns"]["top_names"]} == dict(names)
    urls = collections.Counter(e["url"]["full"] for e in events if e["type"] == "http")
    assert {row["name"]: row["count"] for row in report["http"]["top_urls"]} == dict(urls)
    assert report["tls"] == {"server_names": [], "versions": []}


def test_a_damaged_capture_still_reports_its_intact_packets(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[: len(data) - 30])
    result = _cli("report", "-I", "cut.pcap", "--json", "cut.json", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("packetshipper: capture error: cut.pcap: packet 83")
    figures = json.loads((tmp_path / "cut.json").read_text())
    assert figures["packets"] == 82
    assert "packet 83" in figures["capture"]["loss"]["damaged"]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = _cli("report", "-I", "nothing.pcap", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nothing.pcap" in result.stderr


def test_tables_are_bounded_and_count_what_did_not_fit() -> None:
    counter = BoundedCounter(max_keys=3)
    for key in "abcdef":
        counter.add(key, 1)
    assert len(counter.rows) == 4  # three keys and the (other) row
    assert counter.rows["(other)"] == [3]
    assert counter.dropped == 3


def test_latency_sample_is_exact_until_full_then_a_bounded_reservoir() -> None:
    sample = LatencySample(max_samples=100)
    for value in range(100):
        sample.add(float(value))
    assert sample.exact and sample.summary()["p50"] == 49.0
    for value in range(100, 10_000):
        sample.add(float(value))
    assert len(sample.values) == 100 and not sample.exact
    assert sample.summary()["max"] == 9999.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
