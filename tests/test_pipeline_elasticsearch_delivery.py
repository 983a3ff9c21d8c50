"""The pipeline with the real Elasticsearch output and a loopback `_bulk` server: whole-request failures
are retried, 429 items are sent again, other 4xx items are dead-lettered with the reason, and every
event ends up either in the index or in the dead-letter file (counted by a unique id)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
from packetshipper.settings import validate
from servers.es_server import EsServer

COUNT = 300


def _config(tmp_path: Path, url: str) -> dict[str, Any]:
    # max_retries 5: the first batch meets 3 whole-request failures and then 429s, 4 failed attempts
    es = {"hosts": [url], "bulk_max_size": 50, "max_retries": 5, "backoff.init": "10ms", "backoff.max": "40ms", "timeout": "10s"}
    return {
        "queue": validate(PIPELINE_SETTINGS, {"mem": {"events": 100, "flush.min_events": 10}}, "queue"),
        "output": {"elasticsearch": validate(output_settings("elasticsearch"), es, "output.elasticsearch")},
        "path": {"data": str(tmp_path / "data")},
    }


def test_every_event_is_indexed_or_dead_lettered_with_its_reason(tmp_path: Path):
    seen_429: set[int] = set()
    lock = threading.Lock()

    def items(action: str, index: str, source: Any) -> int | None:
        uid = source["uid"]
        if uid % 50 == 7:
            return 400  # rejected for good
        with lock:
            if uid % 10 == 3 and uid not in seen_429:
                seen_429.add(uid)
                return 429  # come back later
        return None

    with EsServer() as es:
        es.item_hook = items
        es.request_plan = [503, "reset", 500]  # the first three bulk requests fail whole
        metrics = Metrics()
        publisher = build_publisher(_config(tmp_path, es.url), metrics, live=False)
        for uid in range(COUNT):
            event = {"@timestamp": "2015-07-11T21:47:24.428Z", "type": "flow", "uid": uid,
                     "agent": {"version": "0.1.0"}}  # the default index name uses agent.version
            assert publisher.publish(event)
        publisher.close(timeout=25)
        indexed = [doc["uid"] for doc in es.all_documents()]

    dead_file = tmp_path / "data" / "dead_letter.ndjson"
    dead = [json.loads(line) for line in dead_file.read_text().splitlines()]
    rejected = sorted(uid for uid in range(COUNT) if uid % 50 == 7)
    assert sorted(set(indexed)) == sorted(set(range(COUNT)) - set(rejected))
    assert sorted(line["event"]["uid"] for line in dead) == rejected
    assert all("400" in line["reason"] and "document_parsing_exception" in line["reason"] for line in dead)

    stats = metrics.snapshot()["output"]
    assert stats["events"]["rejected"] == len(rejected)
    assert stats["events"]["given_up"] == 0
    assert stats["events"]["retried"] >= len(seen_429)
    assert stats["batches"]["failed"] >= 3
    assert metrics.snapshot()["queue"]["acked"] == COUNT
