"""Brokers that go away and come back lose nothing, through the whole publisher pipeline.

librdkafka's mock brokers are set down (connections cut, new ones refused) and up again through its C
API. Two cases: down before the output ever connects (connect() fails, retries are not used up), and
down in mid-stream after deliveries began, longer than `timeout`, so queued messages time out inside
librdkafka and the pipeline sends them again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("confluent_kafka")

from kafka_mock import MockCluster, consume_all  # noqa: E402
from packetshipper.metrics import Metrics  # noqa: E402
from packetshipper.outputs import output_settings  # noqa: E402
from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher  # noqa: E402
from packetshipper.settings import validate  # noqa: E402

COUNT = 2000
OUTAGE_SECONDS = 3.0


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    mock = MockCluster(3)
    mock.create_topic("events", 3)
    yield mock
    mock.close()


def _publisher(cluster: MockCluster, tmp_path: Path, metrics: Metrics) -> Any:
    output = {"hosts": cluster.hosts, "topic": "events", "timeout": "1s", "bulk_max_size": 100,
              "max_retries": 3, "backoff": {"init": "100ms", "max": "300ms"}}
    config = {
        "queue": validate(PIPELINE_SETTINGS, {"mem": {"events": 500, "flush.min_events": 50,
                                                      "flush.timeout": "50ms"}}, "queue"),
        "output": {"kafka": validate(output_settings("kafka"), output, "output.kafka")},
        "path": {"data": str(tmp_path / "data")},
    }
    return build_publisher(config, metrics, live=False)


def _all_down(cluster: MockCluster) -> None:
    for broker in cluster.broker_ids:
        cluster.broker_down(broker)


def _all_up(cluster: MockCluster) -> None:
    for broker in cluster.broker_ids:
        cluster.broker_up(broker)


def _delivered_ids(cluster: MockCluster) -> list[int]:
    return [json.loads(m.value())["id"] for m in consume_all(cluster.bootstrap, "events", COUNT)]


def _check_nothing_lost(stats: dict[str, Any], ids: list[int]) -> None:
    assert set(ids) == set(range(COUNT))  # at least once: every event is there
    assert stats["queue"]["acked"] == COUNT and stats["queue"]["dropped"]["full"] == 0
    assert stats["output"]["events"]["given_up"] == 0 and stats["output"]["dead_letter"]["written"] == 0


def test_brokers_down_before_the_first_connection(cluster: MockCluster, tmp_path: Path) -> None:
    metrics = Metrics()
    _all_down(cluster)
    restore = threading.Timer(OUTAGE_SECONDS, _all_up, (cluster,))
    restore.start()
    try:
        publisher = _publisher(cluster, tmp_path, metrics)
        assert all(publisher.publish({"id": i, "type": "flow"}) for i in range(COUNT))
        publisher.close(timeout=30)
    finally:
        restore.cancel()
    stats = metrics.snapshot()
    assert stats["output"]["connect_failures"] > 0  # it really was unreachable
    ids = _delivered_ids(cluster)
    _check_nothing_lost(stats, ids)
    assert len(ids) == COUNT  # nothing had been sent before the outage: no duplicates either


def test_brokers_down_in_mid_stream_longer_than_the_timeout(cluster: MockCluster, tmp_path: Path) -> None:
    metrics = Metrics()
    publisher = _publisher(cluster, tmp_path, metrics)
    restore = threading.Timer(OUTAGE_SECONDS, _all_up, (cluster,))
    try:
        for i in range(COUNT // 4):
            assert publisher.publish({"id": i, "type": "flow"})
        _wait_for(lambda: metrics.snapshot()["queue"]["acked"] >= COUNT // 4)  # delivering, connected
        _all_down(cluster)
        restore.start()
        for i in range(COUNT // 4, COUNT):
            assert publisher.publish({"id": i, "type": "flow"})
        publisher.close(timeout=30)
    finally:
        restore.cancel()
    stats = metrics.snapshot()
    client = stats["output"]["client"]
    assert client["events_retried"] > 0 and client["errors"] > 0  # deliveries timed out and were resent
    _check_nothing_lost(stats, _delivered_ids(cluster))


def _wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "the output delivered nothing"
        time.sleep(0.02)
