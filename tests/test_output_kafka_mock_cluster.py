"""output.kafka against librdkafka's mock cluster, read back by a real confluent_kafka Consumer.

Where an event lands is checked against what the settings say and, for hashing, against librdkafka's own
partitioner (a plain confluent_kafka Producer with `partitioner: fnv1a` on the same keys) and Beats' rule
(partition.go's hash2Partition: the FNV-1a hash with the sign bit cleared, modulo the partition count).
The two agree whenever the hash's top bit is clear; librdkafka takes |int32(hash)| otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("confluent_kafka")

from confluent_kafka import Producer  # noqa: E402
from kafka_mock import PRODUCE_API_KEY, MockCluster, consume_all  # noqa: E402
from packetshipper import setup_commands  # noqa: E402
from packetshipper.outputs import output_settings  # noqa: E402
from packetshipper.outputs.kafka import KafkaOutput  # noqa: E402
from packetshipper.settings import validate  # noqa: E402
from packetshipper.version import __version__  # noqa: E402

META = {"beat": "packetshipper", "type": "_doc", "version": __version__}
MESSAGE_TOO_LARGE = 10  # Kafka protocol error code
NOT_ENOUGH_REPLICAS = 19


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    mock = MockCluster(3)
    yield mock
    mock.close()


def _output(cluster: MockCluster, **settings: Any) -> KafkaOutput:
    config = validate(output_settings("kafka"), {"hosts": cluster.hosts, **settings}, "output.kafka")
    out = KafkaOutput(config)
    out.connect()
    return out


def _fnv1a(data: bytes) -> int:
    """FNV-1a, 32 bits, from its definition (offset basis 2166136261, prime 16777619)."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) % 2**32
    return h


def _events(n: int) -> list[dict[str, Any]]:
    kinds = ["dns", "http", "flow"]
    return [{"@timestamp": "2026-11-23T06:54:57.123456Z", "type": kinds[i % 3], "n": i,
             "source": {"ip": f"10.0.0.{i % 7}", "port": 1000 + i}} for i in range(n)]


def test_events_arrive_complete_on_the_topic_their_format_string_names(cluster: MockCluster) -> None:
    for topic in ("ps-dns", "ps-http", "ps-flow"):
        cluster.create_topic(topic, 2)
    out = _output(cluster, topic="ps-%{[type]}")
    events = _events(90)
    result = out.publish_batch(events)
    assert (result.retry, result.dead) == ([], [])
    got = consume_all(cluster.bootstrap, ["ps-dns", "ps-http", "ps-flow"], 90)
    assert len(got) == 90
    for m in got:
        body = json.loads(m.value())
        assert m.topic() == f"ps-{body['type']}"
        assert body == {**events[body["n"]], "@metadata": META}
    assert out.stats["events_acked"] == 90
    out.close()


def test_topics_rules_choose_by_condition_mapping_and_default(cluster: MockCluster) -> None:
    for topic in ("names", "web", "critical", "rest"):
        cluster.create_topic(topic, 1)
    rules = [
        {"topic": "critical", "when": {"range": {"n.gte": 80}}},
        {"topic": "%{[type]}", "mappings": {"dns": "names", "http": "web"}},
    ]
    out = _output(cluster, topics=rules, topic="rest")
    out.publish_batch(_events(90))
    by_topic: dict[str, list[int]] = {t: [] for t in ("names", "web", "critical", "rest")}
    for m in consume_all(cluster.bootstrap, list(by_topic), 90):
        by_topic[m.topic()].append(json.loads(m.value())["n"])
    by_topic = {t: sorted(ns) for t, ns in by_topic.items()}
    assert by_topic["critical"] == list(range(80, 90))
    assert by_topic["names"] == [n for n in range(80) if n % 3 == 0]
    assert by_topic["web"] == [n for n in range(80) if n % 3 == 1]
    assert by_topic["rest"] == [n for n in range(80) if n % 3 == 2]  # flow: no mapping, falls to `topic`
    out.close()


def test_key_hash_partitioning_matches_librdkafka_fnv1a_and_beats_rule(cluster: MockCluster) -> None:
    partitions = 6
    cluster.create_topic("ours", partitions)
    cluster.create_topic("librdkafka", partitions)
    keys = [f"10.1.{i // 256}.{i % 256}" for i in range(200)]
    out = _output(cluster, topic="ours", key="%{[client]}", partition={"hash": {}})
    out.publish_batch([{"client": k, "n": i} for i, k in enumerate(keys)])
    reference = Producer({"bootstrap.servers": cluster.bootstrap, "partitioner": "fnv1a", "log_level": 0})
    for k in keys:
        reference.produce("librdkafka", value=b"x", key=k.encode())
    assert reference.flush(10) == 0
    ours = {m.key().decode(): m.partition() for m in consume_all(cluster.bootstrap, "ours", 200)}
    theirs = {m.key().decode(): m.partition()
              for m in consume_all(cluster.bootstrap, "librdkafka", 200)}
    assert len(ours) == len(theirs) == 200
    differ = 0
    for k in keys:
        h = _fnv1a(k.encode())
        signed = h - 2**32 if h >= 2**31 else h
        assert theirs[k] == abs(signed) % partitions  # librdkafka (as sarama): |int32(hash)| mod count
        assert ours[k] == (h & 0x7FFFFFFF) % partitions  # Beats: sign bit cleared first
        differ += h >= 2**31 and ours[k] != theirs[k]
        if h < 2**31:
            assert ours[k] == theirs[k]
    assert differ > 0  # the keys do exercise the case where Beats and librdkafka disagree
    assert len(set(ours.values())) == partitions
    out.close()


def test_hash_of_fields_keeps_a_flow_on_one_partition(cluster: MockCluster) -> None:
    cluster.create_topic("flows", 4)
    out = _output(cluster, topic="flows", partition={"hash": {"hash": ["source.ip", "type"]}})
    events = _events(70)
    out.publish_batch(events)
    got = consume_all(cluster.bootstrap, "flows", 70)
    placed = {(json.loads(m.value())["source"]["ip"], json.loads(m.value())["type"]): set() for m in got}
    for m in got:
        body = json.loads(m.value())
        placed[(body["source"]["ip"], body["type"])].add(m.partition())
    for (ip, kind), seen in placed.items():
        assert seen == {(_fnv1a(ip.encode() + kind.encode()) & 0x7FFFFFFF) % 4}
    out.close()


def test_hash_of_a_missing_field_is_dropped_when_random_is_false(cluster: MockCluster) -> None:
    cluster.create_topic("strict", 2)
    out = _output(cluster, topic="strict", partition={"hash": {"hash": ["user.name"], "random": False}})
    result = out.publish_batch([{"user": {"name": "ann"}}, {"n": 1}])
    assert result.retry == [] and [i for i, _ in result.dead] == [1]
    assert "user.name" in result.dead[0][1]
    assert [json.loads(m.value())["user"] for m in consume_all(cluster.bootstrap, "strict", 1)] == [
        {"name": "ann"}]
    out.close()


def test_round_robin_moves_on_every_group_events(cluster: MockCluster) -> None:
    cluster.create_topic("rr", 3)
    out = _output(cluster, topic="rr", partition={"round_robin": {"group_events": 4}})
    out.publish_batch([{"n": i} for i in range(24)])
    got = sorted(consume_all(cluster.bootstrap, "rr", 24), key=lambda m: json.loads(m.value())["n"])
    sequence = [m.partition() for m in got]
    assert Counter(sequence) == {0: 8, 1: 8, 2: 8}
    for start in range(0, 24, 4):  # four in a row on one partition, then the next one
        assert len(set(sequence[start:start + 4])) == 1
        if start:
            assert sequence[start] == (sequence[start - 1] + 1) % 3
    out.close()


def test_random_partitioner_uses_every_partition(cluster: MockCluster) -> None:
    cluster.create_topic("rnd", 4)
    out = _output(cluster, topic="rnd", partition={"random": {}})
    out.publish_batch([{"n": i} for i in range(200)])
    assert {m.partition() for m in consume_all(cluster.bootstrap, "rnd", 200)} == {0, 1, 2, 3}
    out.close()


def test_reachable_only_skips_a_partition_without_leader(cluster: MockCluster) -> None:
    cluster.create_topic("lead", 3)
    cluster.set_leader("lead", 1, -1)
    out = _output(cluster, topic="lead", partition={"round_robin": {"reachable_only": True}})
    assert out.publish_batch([{"n": i} for i in range(30)]).retry == []
    assert Counter(m.partition() for m in consume_all(cluster.bootstrap, "lead", 30)) == {0: 15, 2: 15}
    out.close()


def test_librdkafka_queue_is_bounded_by_bulk_max_size(cluster: MockCluster) -> None:
    cluster.create_topic("small", 1)
    out = _output(cluster, topic="small", bulk_max_size=5)
    assert out.properties["queue.buffering.max.messages"] == 5
    result = out.publish_batch([{"n": i} for i in range(40)])  # more than the pipeline would hand over
    assert (result.retry, result.dead) == ([], [])
    assert out.stats["queue_full"] > 0  # produce waited for deliveries instead of growing the queue
    assert sorted(json.loads(m.value())["n"] for m in consume_all(cluster.bootstrap, "small", 40)) == list(
        range(40))
    out.close()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_compression_codec_round_trips(cluster: MockCluster, codec: str) -> None:
    cluster.create_topic("z", 2)
    out = _output(cluster, topic="z", compression=codec, compression_level=9)
    events = [{"n": i, "text": "packet " * (i % 50)} for i in range(300)]
    assert out.publish_batch(events).retry == []
    got = sorted((json.loads(m.value()) for m in consume_all(cluster.bootstrap, "z", 300)),
                 key=lambda e: e["n"])
    assert got == [{**e, "@metadata": META} for e in events]
    out.close()


def test_headers_and_key_reach_the_consumer(cluster: MockCluster) -> None:
    cluster.create_topic("h", 1)
    out = _output(cluster, topic="h", key="%{[type]}-%{[n]}",
                  headers=[{"key": "sensor", "value": "east-1"}, {"key": "schema", "value": "1"}])
    out.publish_batch([{"type": "dns", "n": 5}, {"n": 6}])
    got = consume_all(cluster.bootstrap, "h", 2)
    assert [(m.key(), m.headers()) for m in got] == [
        (b"dns-5", [("sensor", b"east-1"), ("schema", b"1")]),
        (None, [("sensor", b"east-1"), ("schema", b"1")]),  # a key naming a missing field: no key
    ]
    assert out.stats["keys_missing"] == 1
    out.close()


def test_format_codec_sends_the_rendered_string(cluster: MockCluster) -> None:
    cluster.create_topic("lines", 1)
    out = _output(cluster, topic="lines", **{"codec.format.string": "%{[type]} %{[n]}"})
    result = out.publish_batch([{"type": "dns", "n": 1}, {"n": 2}, {"type": "http", "n": 3}])
    assert [i for i, _ in result.dead] == [1]  # nothing to render `type` from
    assert [m.value() for m in consume_all(cluster.bootstrap, "lines", 2)] == [b"dns 1", b"http 3"]
    out.close()


def test_too_large_events_are_dead_lettered_the_rest_delivered(cluster: MockCluster) -> None:
    cluster.create_topic("big", 1)
    out = _output(cluster, topic="big", max_message_bytes=2000)
    result = out.publish_batch([{"n": 0}, {"n": 1, "blob": "x" * 5000}, {"n": 2}])
    assert result.retry == [] and [i for i, _ in result.dead] == [1]
    assert "max_message_bytes" in result.dead[0][1]
    assert [json.loads(m.value())["n"] for m in consume_all(cluster.bootstrap, "big", 2)] == [0, 2]
    out.close()


def test_a_broker_rejecting_a_message_as_too_large_dead_letters_it(cluster: MockCluster) -> None:
    cluster.create_topic("rejects", 1)
    out = _output(cluster, topic="rejects")
    cluster.fail_next_requests(PRODUCE_API_KEY, [MESSAGE_TOO_LARGE])
    result = out.publish_batch([{"n": 0}])
    assert result.retry == [] and len(result.dead) == 1 and "too large" in result.dead[0][1].lower()
    assert out.publish_batch([{"n": 1}]).dead == []  # the next request is accepted
    assert [json.loads(m.value())["n"] for m in consume_all(cluster.bootstrap, "rejects", 1)] == [1]
    out.close()


def test_a_retriable_broker_error_is_retried_and_delivered(cluster: MockCluster) -> None:
    cluster.create_topic("flaky", 1)
    out = _output(cluster, topic="flaky", required_acks=-1)
    cluster.fail_next_requests(PRODUCE_API_KEY, [NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS])
    result = out.publish_batch([{"n": i} for i in range(5)])
    assert (result.retry, result.dead) == ([], [])
    assert sorted(json.loads(m.value())["n"] for m in consume_all(cluster.bootstrap, "flaky", 5)) == [
        0, 1, 2, 3, 4]
    out.close()


def test_test_output_lists_the_brokers(cluster: MockCluster) -> None:
    report = setup_commands.test_output({"output": {"kafka": {"hosts": cluster.hosts, "topic": "t"}}})
    assert f"{cluster.hosts[0]}... dial up OK" in report
    assert "metadata... OK (3 brokers: 1 127.0.0.1:" in report
