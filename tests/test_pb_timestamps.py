"""Times as Packetbeat 8 writes them: `@timestamp`, `event.start` and `event.end` with six fraction digits,
the capture record's own microsecond, on every output. Expected times come from tshark's frame.time_epoch."""

from __future__ import annotations

import calendar
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packetshipper.event import iso_timestamp
from servers.es_server import EsServer
from servers.lumberjack_server import LumberjackServer
from servers.redis_server import REDIS_SERVER, redis_command, redis_server

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
TIMES = ("@timestamp", "event.start", "event.end")


def _tshark_times(pcap: Path) -> list[str]:
    """Each frame's time as tshark prints it (`1445287763.817185000`), rewritten as RFC 3339 to the microsecond."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    stamps = []
    for line in out.split():
        whole, fraction = line.split(".")
        stamps.append(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(whole))) + f".{fraction[:6]}Z")
    return stamps


needs_tshark = pytest.mark.skipif(subprocess.run(["which", "tshark"], capture_output=True).returncode != 0,
                                  reason="tshark is not installed")


def _epoch(stamp: str) -> float:
    whole, fraction = stamp[:-1].split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(fraction) / 1e6


@needs_tshark
@pytest.mark.parametrize("pcap", [SAMPLE, PCAPS / "icmp" / "icmp_2_pings.pcap", PCAPS / "pgsql_request_response.pcap"])
def test_a_record_time_formats_to_its_exact_microsecond(pcap: Path) -> None:
    for stamp in _tshark_times(pcap):
        # The float the capture builds from the record's (sec, usec), as the engine does.
        whole, fraction = stamp[:-1].split(".")
        sec, usec = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")), int(fraction)
        assert iso_timestamp(sec + usec * 1e-6) == stamp


def test_the_six_digits_are_the_records_microseconds_at_the_edges() -> None:
    assert iso_timestamp(1_000_000_000 + 999_999 * 1e-6) == "2001-09-09T01:46:40.999999Z"  # never carried up
    assert iso_timestamp(1_000_000_000 + 1 * 1e-6) == "2001-09-09T01:46:40.000001Z"
    assert iso_timestamp(0.0) == "1970-01-01T00:00:00.000000Z"


def _times(events: list[dict[str, Any]]) -> set[str]:
    found = set()
    for e in events:
        for key in TIMES:
            node: Any = e
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                found.add(node)
    return found


def _run(tmp_path: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t",
                             "-E", "packetshipper.flows.enabled=false", *args],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def _check(events: list[dict[str, Any]], frames: set[str]) -> None:
    stamps = _times(events)
    assert events
    assert stamps and stamps <= frames  # each time is some packet's record time, to the microsecond
    assert all(len(s) == len("2026-11-23T06:54:57.123456Z") for s in stamps)


@needs_tshark
def test_console_logstash_and_elasticsearch_carry_microseconds(tmp_path: Path) -> None:
    frames = set(_tshark_times(SAMPLE))
    out = tmp_path / "out"
    _run(tmp_path, "-E", "output.console.enabled=false", "-E", "output.file.enabled=true",
         "-E", f"output.file.path={out}", "-E", "output.file.filename=events")
    _check([json.loads(line) for line in (out / "events").read_text().splitlines()], frames)

    with LumberjackServer() as server:
        _run(tmp_path, "-E", "output.console.enabled=false",
             "-E", f"output.logstash.hosts=['127.0.0.1:{server.port}']")
        _check(server.acked_events, frames)

    with EsServer() as es:
        _run(tmp_path, "-E", "output.console.enabled=false", "-E", f"output.elasticsearch.hosts=['{es.url}']")
        _check(es.all_documents(), frames)


@needs_tshark
@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_redis_carries_microseconds(tmp_path: Path) -> None:
    with redis_server(tmp_path) as port:
        _run(tmp_path, "-E", "output.console.enabled=false", "-E", f"output.redis.hosts=['127.0.0.1:{port}']")
        raw = redis_command(port, "LRANGE", "packetshipper", "0", "-1")
    assert isinstance(raw, list)
    _check([json.loads(item) for item in raw], set(_tshark_times(SAMPLE)))


def test_durations_and_start_end_agree_to_the_microsecond() -> None:
    from packetshipper.testing import run_pcap

    run = run_pcap(str(SAMPLE), {"packetshipper": {"flows": {"enabled": False}}})
    for e in run.events:
        if "start" in e["event"] and "end" in e["event"]:
            start, end = _epoch(e["event"]["start"]), _epoch(e["event"]["end"])
            assert e["event"]["duration"] == round((end - start) * 1e6) * 1000
