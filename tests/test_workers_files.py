"""`packetshipper.workers: 2` on capture files: exactly the events of one process, the packets shared out.

The corpus pcaps here are those whose packets fall to both workers (several IP address pairs), with every
built-in module on; the generated capture interleaves thousands of HTTP and DNS conversations and ends
with flows and transactions still open (flushed at the end of the file).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pcapy
import pytest
from packetshipper.config import default_protocols
from packetshipper.pcapgen import generate_http_dns, write_pcap
from packetshipper.testing import run_pcap
from service_process import ShipperProcess

PCAPS = Path(__file__).parent / "pcaps"
SHARED_OUT = [  # each has packets for both of two workers
    "crafted/malformed_ethernet.pcap",
    "packetbeat/communityid/icmp6.pcap",
    "packetbeat/dhcp.pcap",
    "packetbeat/dns_mx.pcap",
    "packetbeat/http_100_continue.pcap",
    "packetbeat/http_get_2k_file.pcap",
    "packetbeat/http_minitwit.pcap",
    "packetbeat/http_unmatched_timeout.pcap",
]


def _config(workers: int, **flows: Any) -> dict[str, Any]:
    return {"packetshipper": {"protocols": default_protocols(), "workers": workers, "flows": flows}}


def _counted(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(event, sort_keys=True) for event in events)


def _packets_in(path: Path) -> int:
    """Counted by libpcap itself, not by packetshipper."""
    reader, count = pcapy.open_offline(str(path)), 0
    while True:
        _buf, meta = reader.next_batch(4096)
        if not meta:
            return count
        count += len(meta) // 16


@pytest.mark.slow
def test_two_workers_give_exactly_the_events_of_one_on_corpus_pcaps(
        assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    for name in SHARED_OUT:
        one = run_pcap(str(PCAPS / name), _config(1)).events
        two = run_pcap(str(PCAPS / name), _config(2)).events
        assert one, name
        assert _counted(two) == _counted(one), name
        for event in two:
            assert_valid_event(event)


@pytest.fixture(scope="module")
def mixed_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("workers") / "http-dns.pcap"
    write_pcap(str(path), generate_http_dns(6000, duration=40.0, concurrent=300))
    return path


@pytest.mark.slow
def test_two_workers_give_exactly_the_events_of_one_on_interleaved_conversations(mixed_pcap: Path) -> None:
    # period and timeout shorter than the capture: reports and expiry happen mid-file in every worker
    flows = {"period": "5s", "timeout": "3s"}
    one = run_pcap(str(mixed_pcap), _config(1, **flows), check_schema=False)
    two = run_pcap(str(mixed_pcap), _config(2, **flows), check_schema=False)
    kinds = Counter(event["type"] for event in one.events)
    assert kinds["http"] > 100 and kinds["dns"] > 100 and kinds["flow"] > 200, kinds
    assert _counted(two.events) == _counted(one.events)
    # every packet of the file went to exactly one worker, and both had a share
    per_worker = two.stats["workers"]["per_worker"]
    assert set(per_worker) == {"0", "1"} and all(w["received"] > 0 for w in per_worker.values())
    assert sum(w["received"] for w in per_worker.values()) == _packets_in(mixed_pcap)
    assert two.stats["capture"]["received"] == _packets_in(mixed_pcap)
    assert two.stats["capture"]["events"] == len(two.events)
    # the sections a single process has, added up
    for section in ("flows", "protocols"):
        assert two.stats[section] == one.stats[section], section
    assert two.stats["workers"]["restarts"] == 0


def test_the_command_line_runs_workers_and_writes_every_event(tmp_path: Path) -> None:
    pcap = PCAPS / "packetbeat/http_minitwit.pcap"
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        done = subprocess.run(
            [str(Path(sys.executable).parent / "packetshipper"), "run", "-e", "-I", str(pcap), "-t",
             "--workers", str(workers), "-E", "output.console.enabled=false", "-E", f"output.file.path={out}",
             "-E", "output.file.filename=events"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        outputs[workers] = [json.loads(line) for line in (out / "events").read_text().splitlines()]
    assert "(2 workers)" in done.stderr
    assert _counted(outputs[2]) == _counted(outputs[1])


@pytest.mark.parametrize(("args", "message"), [
    (["-I", str(PCAPS / "packetbeat/dns_mx.pcap"), "--workers", "0"], "packetshipper.workers: must be from 1 to 64"),
    (["-i", "lo", "--workers", "2"], "needs packetshipper.interfaces.type: af_packet"),
    (["-i", "any", "-E", "packetshipper.interfaces.type=af_packet", "--workers", "2"], "needs a named interface"),
])
def test_a_setting_workers_cannot_use_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "packetshipper"), "run", "-e", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_a_worker_killed_while_a_file_is_replayed_is_restarted_and_gets_the_batches_after(tmp_path: Path) -> None:
    config = tmp_path / "replay.yml"
    config.write_text("http.enabled: true\nhttp.port: 0\noutput.console.enabled: false\n"
                      f"output.file: {{path: '{tmp_path / 'out'}', filename: events}}\n")
    replay = ShipperProcess("-c", str(config), "-I", str(PCAPS / "packetbeat/http_minitwit.pcap"), "-t", "-l", "0",
                            "--workers", "2", cwd=tmp_path)
    try:
        replay.wait_for(r"monitoring endpoint on http://")

        def worker(index: str) -> dict[str, Any]:
            limit = time.monotonic() + 20
            while True:
                entry = replay.stats()["workers"]["per_worker"].get(index)
                if entry is not None and entry["alive"] and entry["received"] > 0:
                    return dict(entry)
                assert time.monotonic() < limit, "\n".join(replay.lines)
                time.sleep(0.1)

        victim = worker("1")["pid"]
        os.kill(victim, signal.SIGKILL)
        replay.wait_for(rf"worker 1 \(pid {victim}\) ended \(killed by SIGKILL\) after [\d.]+s; restarted as pid")
        limit = time.monotonic() + 20
        while (entry := worker("1"))["pid"] == victim:  # the replacement reports the packets it takes
            assert time.monotonic() < limit
            time.sleep(0.1)
        assert entry["restarts"] == 1 and replay.stats()["workers"]["restarts"] == 1
        assert replay.signal_and_time() < 5
    finally:
        replay.kill()
    assert replay.proc.returncode == 0
    replay.last_line()  # every line written, the fork server's and multiprocessing's resource tracker's too
    assert not [line for line in replay.lines if "Traceback" in line or "leaked" in line or "Warning:" in line]


@pytest.mark.slow
def test_two_workers_into_elasticsearch_through_the_disk_queue_index_every_event_exactly_once(
        tmp_path: Path, mixed_pcap: Path) -> None:
    from servers.es_server import EsServer

    protocols = [{"type": "http", "ports": [80]}, {"type": "dns", "ports": [53]}]
    expected = run_pcap(str(mixed_pcap), {"packetshipper": {"protocols": protocols}}, check_schema=False).events
    assert {event["type"] for event in expected} == {"http", "dns", "flow"}
    config = tmp_path / "es.yml"
    with EsServer(drop_responses=0.3, drop_seed=3) as es:  # answers lost after indexing: retried, then 409
        config.write_text(
            f"output.elasticsearch: {{hosts: ['{es.url}'], bulk_max_size: 200, backoff: {{init: 0.05, max: 0.2}}}}\n"
            f"queue.disk: {{path: '{tmp_path / 'queue'}'}}\nsetup.template.enabled: false\nsetup.ilm.enabled: false\n"
            f"packetshipper.protocols: {json.dumps(protocols)}\n")
        done = subprocess.run(
            [str(Path(sys.executable).parent / "packetshipper"), "run", "-e", "-c", str(config), "-I", str(mixed_pcap),
             "-t", "--workers", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        documents, ids = es.all_documents(), es.document_ids()
        assert es.responses_dropped > 0 and es.conflicts > 0  # retries happened and ids made them harmless
    assert len(ids) == len(set(ids)) == len(expected)
    for event in expected:
        event.pop("@metadata", None)
    assert _counted(documents) == _counted(expected)
