"""Exactly-once indexing: each event's `@metadata._id`, stamped when it is queued, is the bulk `_id` of a
`create`; answers lost after indexing make the resent batch meet 409s, counted as duplicates, and the
in-test Elasticsearch (which counts its own 409s and dropped answers) ends up with every event once.

The end-to-end runs are real `packetshipper -I` processes reading a Packetbeat capture; what they
should index is what the same run writes to the console.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from packetshipper.event import id_stamper
from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.elasticsearch import ElasticsearchOutput
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.pipeline.queue_disk import DiskQueue
from packetshipper.settings import validate
from servers.es_server import EsServer
from servers.redis_server import free_port

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "wsgi_drum.pcap"  # 91 flow + 16 HTTP events (tshark: 16 request/response pairs)
PROTOCOLS = "packetshipper.protocols:\n  - type: http\n    ports: [8888]\n"


# --- helpers ---------------------------------------------------------------------------------------


def _cli(workdir: Path, config: str, pcap: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    (workdir / "run.yml").write_text(config)
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", "-c", "run.yml", "-I", str(pcap), "-t", "-e"],
                          capture_output=True, text=True, timeout=timeout, cwd=workdir)


def _canonical(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _expected_events(tmp_path: Path) -> collections.Counter[bytes]:
    """What the run publishes: the same capture and protocols, to the console."""
    workdir = tmp_path / "console"
    workdir.mkdir()
    result = _cli(workdir, PROTOCOLS, PCAP)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 107 and not any("@metadata" in e for e in events)
    return collections.Counter(_canonical(e) for e in events)


def _es_config(es: EsServer, data: Path, extra: str = "") -> str:
    return (PROTOCOLS + f"output.elasticsearch:\n  hosts: [\"{es.url}\"]\n  bulk_max_size: 4\n"
            f"  backoff.init: 10ms\n  backoff.max: 50ms\npath.data: {data}\n" + extra)


def _total_metrics(stderr: str) -> dict[str, int]:
    """The `Total metrics:` line a run logs when it stops (non-zero counters only)."""
    line = next(line for line in reversed(stderr.splitlines()) if "Total metrics:" in line)
    pairs = (item.partition("=") for item in line.split("Total metrics:", 1)[1].split())
    return {key: int(float(value)) for key, _, value in pairs}


def _indexed(es: EsServer, assert_valid_event: Any) -> collections.Counter[bytes]:
    documents = es.all_documents()
    for doc in documents:
        assert_valid_event(doc)
    ids = es.document_ids()
    assert len(ids) == len(documents)
    assert not any(doc_id.startswith("auto-") for _, doc_id in ids), "every document has the shipper's id"
    return collections.Counter(_canonical(doc) for doc in documents)


# --- end to end ------------------------------------------------------------------------------------


def test_memory_queue_30_percent_of_answers_lost_every_event_indexed_once(tmp_path: Path, assert_valid_event):
    expected = _expected_events(tmp_path)
    # Seed 1: 20 of the first 60 answers dropped, never 4 in a row (the memory queue gives up after 3 retries).
    with EsServer(drop_responses=0.3, drop_seed=1) as es:
        result = _cli(tmp_path, _es_config(es, tmp_path / "data"), PCAP)
        assert result.returncode == 0, result.stderr
        indexed = _indexed(es, assert_valid_event)
        dropped, conflicts_answered = es.responses_dropped, es.conflicts_answered
    metrics = _total_metrics(result.stderr)
    assert indexed == expected
    assert dropped >= 5 and conflicts_answered >= 5  # the case under test happened, more than once
    assert metrics["output.events.duplicates"] == conflicts_answered
    assert metrics["output.events.acked"] == 107
    assert metrics["output.read.errors"] == dropped
    assert "output.client.connect_errors" not in metrics and "output.connect_failures" not in metrics
    assert "output.events.given_up" not in metrics and "output.events.rejected" not in metrics


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as answer:
        return json.loads(answer.read())


def _wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if predicate():
                return
        except OSError:  # the monitoring endpoint is not listening yet
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_disk_queue_killed_mid_way_and_restarted_every_event_indexed_once(tmp_path: Path, assert_valid_event):
    expected = _expected_events(tmp_path)
    queue = f"queue.disk:\n  path: {tmp_path / 'diskqueue'}\n"
    port = free_port()
    first = tmp_path / "first"
    first.mkdir()
    with EsServer(drop_responses=0.3, drop_seed=0) as es:
        # Bulk request 12 is indexed and its answer lost; its retry is held in flight while the shipper is
        # killed: the restarted shipper must resend those events with the same ids and meet 409s.
        es.request_plan = [None] * 11 + ["drop", "hold"]
        (first / "run.yml").write_text(_es_config(es, tmp_path / "data", queue + f"http:\n  enabled: true\n  port: {port}\n"))
        child = subprocess.Popen([sys.executable, "-m", "packetshipper.cli", "-c", "run.yml", "-I", str(PCAP), "-t", "-e"],
                                 cwd=first, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert es.holding.wait(60), "the shipper never got to the held request"
            # Everything is published (on disk) before the kill, so the restart has all of it to deliver.
            _wait_for(lambda: _stats(port)["queue"]["added"] == 107, 30, "all 107 events in the disk queue")
            before_kill = _stats(port)["output"]
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate(timeout=30)
        es.release_held()
        midway = len(es.all_documents())
        dropped_before_kill = es.responses_dropped

        second = tmp_path / "second"
        second.mkdir()
        empty = tmp_path / "empty.pcap"
        empty.write_bytes(PCAP.read_bytes()[:24])  # the same capture's file header, no packets: no new events
        result = _cli(second, _es_config(es, tmp_path / "data", queue), empty)
        assert result.returncode == 0, result.stderr
        indexed = _indexed(es, assert_valid_event)
        dropped, conflicts_answered = es.responses_dropped, es.conflicts_answered
    after = _total_metrics(result.stderr)
    assert 0 < midway < 107, "the kill came mid-way"
    assert indexed == expected
    restart_duplicates = after.get("output.events.duplicates", 0)
    assert restart_duplicates >= 1  # the batch whose answer was lost, resent by the new process
    assert before_kill["events"]["duplicates"] + restart_duplicates == conflicts_answered
    # The held request was never answered, so the killed shipper saw every drop before it as a read error.
    assert before_kill["read"]["errors"] == dropped_before_kill
    assert before_kill["read"]["errors"] + after.get("output.read.errors", 0) == dropped
    # The restart delivered exactly what the first run had not had acknowledged.
    assert after["output.events.acked"] == 107 - before_kill["events"]["acked"]


# --- the id, the switch, the metrics ----------------------------------------------------------------


def _publisher(tmp_path: Path, es: EsServer, **output: Any) -> tuple[Any, Metrics]:
    settings = {"hosts": [es.url], "bulk_max_size": 3, "backoff.init": "10ms", "backoff.max": "20ms", **output}
    config = {
        "queue": validate(PIPELINE_SETTINGS, {"mem": {"events": 64, "flush.min_events": 3}}, "queue"),
        "output": {"elasticsearch": validate(output_settings("elasticsearch"), settings, "output.elasticsearch")},
        "path": {"data": str(tmp_path / "data")},
    }
    metrics = Metrics()
    return build_publisher(config, metrics, live=False), metrics


def _events(count: int) -> list[dict[str, Any]]:
    return [{"@timestamp": "2015-07-11T21:47:24.428Z", "type": "flow", "n": n, "agent": {"version": "0.1.0"}}
            for n in range(count)]


@pytest.mark.parametrize("version", ["8.17.0", "7.4.2"])
def test_with_exactly_once_every_action_is_a_create_with_a_unique_id(tmp_path: Path, version: str):
    with EsServer(version=version) as es:
        publisher, _ = _publisher(tmp_path, es)
        for event in _events(9):
            publisher.publish(event)
        publisher.close(timeout=20)
        actions = list(es.actions)
    assert [op for op, _ in actions] == ["create"] * 9  # an id means create, whatever the version (Beats)
    ids = [meta["_id"] for _, meta in actions]
    assert len(set(ids)) == 9 and all(isinstance(i, str) and 0 < len(i) <= 512 for i in ids)


@pytest.mark.parametrize(("version", "op"), [("8.17.0", "create"), ("7.4.2", "index")])
def test_exactly_once_off_sends_no_id_and_beats_op_for_the_version(tmp_path: Path, version: str, op: str):
    with EsServer(version=version) as es:
        es.request_plan = ["drop"]
        publisher, metrics = _publisher(tmp_path, es, exactly_once=False)
        for event in _events(3):
            publisher.publish(event)
        publisher.close(timeout=20)
        actions = list(es.actions)
        documents = es.all_documents()
    assert [a for a, _ in actions] == [op] * 6
    assert not any("_id" in meta for _, meta in actions)
    # Without ids the lost answer costs what it cost before: the batch is indexed twice.
    assert sorted(doc["n"] for doc in documents) == [0, 0, 1, 1, 2, 2]
    assert metrics.snapshot()["output"]["events"]["duplicates"] == 0


def test_a_lost_answer_is_a_read_error_and_the_resent_batch_only_duplicates(tmp_path: Path):
    with EsServer() as es:
        es.request_plan = ["drop"]
        publisher, metrics = _publisher(tmp_path, es)
        for event in _events(6):
            publisher.publish(event)
        publisher.close(timeout=20)
        documents = es.all_documents()
        conflicts_answered = es.conflicts_answered
    output = metrics.snapshot()["output"]
    assert sorted(doc["n"] for doc in documents) == list(range(6))
    assert not any("@metadata" in doc for doc in documents)  # not indexed as a field, as in Beats
    assert output["read"]["errors"] == 1
    assert output["client"]["connect_errors"] == 0 and output["connect_failures"] == 0
    assert output["events"]["duplicates"] == conflicts_answered == 3
    assert output["events"]["acked"] == 6 and output["events"]["given_up"] == 0


def test_a_read_timeout_is_a_read_error_and_a_refused_connection_a_connect_error():
    def make(url: str, timeout: str) -> ElasticsearchOutput:
        return ElasticsearchOutput(validate(output_settings("elasticsearch"), {"hosts": [url], "timeout": timeout},
                                            "output.elasticsearch"))

    with EsServer() as es:
        es.request_plan = [("slow", 1.5)]
        slow = make(es.url, "300ms")
        slow.connect()
        with pytest.raises(OutputError, match="timed out"):
            slow.publish_batch(_events(1))
    refused = make(f"http://127.0.0.1:{free_port()}", "2s")
    with pytest.raises(OutputError):
        refused.publish_batch(_events(1))
    assert (slow.stats["read_errors"], slow.stats["connect_errors"]) == (1, 0)
    assert (refused.stats["read_errors"], refused.stats["connect_errors"]) == (0, 1)


def test_the_id_survives_the_disk_queue_across_a_restart(tmp_path: Path):
    stamp = id_stamper()
    events = _events(5)
    for event in events:
        stamp(event)
    queue = DiskQueue(str(tmp_path / "q"), 1 << 20, 64 << 10)
    for event in events:
        assert queue.put(event, block=True)
    queue.close()
    queue.release()
    reopened = DiskQueue(str(tmp_path / "q"), 1 << 20, 64 << 10)
    batch = reopened.get(10)
    reopened.release()
    assert batch is not None
    assert [e.meta["_id"] for e in batch.events] == [e["@metadata"]["_id"] for e in events]


def test_ids_are_unique_per_process_keep_a_given_id_and_never_touch_a_shared_metadata():
    first, second = id_stamper(), id_stamper()
    shared = {"pipeline": "p"}
    events: list[dict[str, Any]] = [{}, {}, {"@metadata": shared}, {"@metadata": {"_id": "mine"}}]
    for event in events:
        first(event)
    other: dict[str, Any] = {}
    second(other)
    ids = [e["@metadata"]["_id"] for e in events]
    assert ids[3] == "mine" and len(set(ids)) == 4
    assert events[2]["@metadata"] == {"pipeline": "p", "_id": ids[2]} and shared == {"pipeline": "p"}
    assert other["@metadata"]["_id"][:16] != ids[0][:16]  # another process (stamper) draws another prefix
