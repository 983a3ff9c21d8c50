"""The Elasticsearch output handles bulk answers as Beats does: per-item retry, dead letters, 413 splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.elasticsearch import ElasticsearchOutput
from packetshipper.pipeline.consumer import OutputWorker, RetryPolicy
from packetshipper.pipeline.dead_letter import DeadLetterFile
from packetshipper.pipeline.queue_mem import MemoryQueue
from packetshipper.settings import validate
from servers.es_server import EsServer


def make_output(es: EsServer, **extra: Any) -> ElasticsearchOutput:
    return ElasticsearchOutput(validate(ElasticsearchOutput.settings, {"hosts": [es.url], **extra}))


def events(count: int) -> list[dict[str, Any]]:
    return [{"@timestamp": "2024-03-05T06:07:08.123Z", "seq": i, "agent": {"version": "0.1.0"}} for i in range(count)]


def test_three_429_items_are_retried_and_two_400_items_are_dead_lettered_with_their_error(tmp_path: Path) -> None:
    too_many_once = {17, 500, 999}
    rejected = {3, 640}
    refused_already: set[int] = set()

    def statuses(action: str, index: str, doc: Any) -> int | None:
        seq = doc["seq"]
        if seq in too_many_once and seq not in refused_already:
            refused_already.add(seq)
            return 429
        return 400 if seq in rejected else None

    dead_path = tmp_path / "dead.ndjson"
    with EsServer() as es:
        es.item_hook = statuses
        output = make_output(es)
        queue = MemoryQueue(max_events=2000, min_events=1000)
        dead = DeadLetterFile(str(dead_path), max_size=1 << 20)
        worker = OutputWorker(queue, output, dead, RetryPolicy(1000, 3, 0.001, 0.001))
        for event in events(1000):
            assert queue.put(event, block=True)
        queue.close()
        worker.start()
        assert worker.join(30)
        stored = sorted(doc["seq"] for doc in es.all_documents())

    assert stored == sorted(set(range(1000)) - rejected)
    assert refused_already == too_many_once
    lines = [orjson.loads(line) for line in dead_path.read_bytes().splitlines()]
    assert sorted(line["event"]["seq"] for line in lines) == sorted(rejected)
    for line in lines:
        assert line["reason"].startswith("elasticsearch: 400 document_parsing_exception: ")
    assert output.stats["events_too_many"] == 3
    assert output.stats["events_retried"] == 3
    assert output.stats["events_dead"] == 2
    assert output.stats["events_acked"] == 998  # 995 at once, the 3 retried ones later
    stats = worker.stats()
    assert stats["events"]["rejected"] == 2
    assert stats["events"]["retried"] == 3
    assert stats["dead_letter"]["written"] == 2


def test_item_statuses_map_to_ack_duplicate_retry_and_dead() -> None:
    plan = {0: None, 1: 409, 2: 429, 3: 500, 4: 503, 5: 400, 6: 404}
    with EsServer() as es:
        es.item_hook = lambda action, index, doc: plan[doc["seq"]]
        output = make_output(es)
        result = output.publish_batch(events(7))
    assert result.retry == [2, 3, 4]
    assert [i for i, _ in result.dead] == [5, 6]
    assert result.duplicates == 1
    assert output.stats["events_acked"] == 1


def test_create_of_an_existing_id_is_a_duplicate_not_a_failure() -> None:
    event = {"@timestamp": "2024-03-05T06:07:08.123Z", "seq": 1, "@metadata": {"_id": "abc"}}
    index = {"index": "fixed-index"}
    with EsServer() as es:
        output = make_output(es, **index)
        assert output.publish_batch([event]).duplicates == 0
        second = output.publish_batch([event])
        assert len(es.all_documents()) == 1
    assert second.duplicates == 1 and not second.retry and not second.dead
    assert es.all_documents()[0] == {"@timestamp": "2024-03-05T06:07:08.123Z", "seq": 1}  # no @metadata


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_non_200_answer_fails_the_whole_batch_and_the_retry_lands(status: int) -> None:
    with EsServer() as es:
        es.request_plan = [status]
        output = make_output(es)
        with pytest.raises(OutputError, match=str(status)):
            output.publish_batch(events(5))
        assert es.all_documents() == []
        assert output.publish_batch(events(5)).retry == []
        assert len(es.all_documents()) == 5
    assert output.stats["bulk_errors"] == 1


def test_a_connection_reset_mid_request_fails_the_batch_and_the_next_request_reconnects() -> None:
    with EsServer() as es:
        es.request_plan = ["reset"]
        output = make_output(es, compression_level=0)
        with pytest.raises(OutputError):
            output.publish_batch(events(50))
        assert output.publish_batch(events(50)).retry == []
        assert len(es.all_documents()) == 50
    # The connection was made and the request under way: the answer is what was lost.
    assert (output.stats["read_errors"], output.stats["connect_errors"]) == (1, 0)


def test_a_slow_answer_beyond_the_timeout_fails_the_batch() -> None:
    with EsServer() as es:
        es.request_plan = [("slow", 1.5)]
        output = make_output(es, timeout="300ms")
        output.connect()
        with pytest.raises(OutputError, match="timed out"):
            output.publish_batch(events(3))


def test_413_splits_the_batch_until_it_fits_and_an_event_too_large_alone_is_dead() -> None:
    batch = events(64)
    batch[10]["blob"] = "x" * 5000
    with EsServer(max_content_length=2000) as es:
        output = make_output(es, compression_level=0)
        result = output.publish_batch(batch)
        stored = sorted(doc["seq"] for doc in es.all_documents())
    assert stored == [i for i in range(64) if i != 10]
    assert [i for i, _ in result.dead] == [10]
    assert "413" in result.dead[0][1]
    assert result.retry == []
    assert output.stats["batch_splits"] >= 5  # 64 events at ~70 bytes each cannot go in one 2000-byte body


def test_unencodable_events_are_dead_and_the_rest_is_sent() -> None:
    batch: list[dict[str, Any]] = events(3)
    batch[1]["bad"] = {1, 2}  # a set is not JSON
    with EsServer() as es:
        result = make_output(es).publish_batch(batch)
        assert sorted(d["seq"] for d in es.all_documents()) == [0, 2]
    assert [i for i, _ in result.dead] == [1]
