"""librdkafka's mock Kafka cluster, driven through its C API (the library confluent-kafka bundles).

The cluster runs in this process but listens on 127.0.0.1 ports, so any client (our output, a real
confluent_kafka Consumer, a packetshipper child process) uses it as real brokers. The C API gives what
the Python package does not: creating topics with a partition count, setting a broker down and up, and
making the next requests of a kind fail with a chosen error code.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Iterator
from typing import Any

import confluent_kafka
from confluent_kafka import Consumer, TopicPartition

__all__ = ["MockCluster", "consume_all", "PRODUCE_API_KEY"]

PRODUCE_API_KEY = 0


def _library() -> ctypes.CDLL:
    folder = os.path.join(os.path.dirname(confluent_kafka.__file__), os.pardir, "confluent_kafka.libs")
    if os.path.isdir(folder):
        names = sorted(f for f in os.listdir(folder) if f.startswith("librdkafka"))
        if names:
            return ctypes.CDLL(os.path.join(folder, names[0]))
    return ctypes.CDLL("librdkafka.so.1")  # a confluent-kafka built against the system's librdkafka


_lib = _library()
_vp, _cp, _i32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32
for _name, _res, _args in [
    ("rd_kafka_conf_new", _vp, []),
    ("rd_kafka_conf_set", ctypes.c_int, [_vp, _cp, _cp, _cp, ctypes.c_size_t]),
    ("rd_kafka_new", _vp, [ctypes.c_int, _vp, _cp, ctypes.c_size_t]),
    ("rd_kafka_destroy", None, [_vp]),
    ("rd_kafka_mock_cluster_new", _vp, [_vp, ctypes.c_int]),
    ("rd_kafka_mock_cluster_destroy", None, [_vp]),
    ("rd_kafka_mock_cluster_bootstraps", _cp, [_vp]),
    ("rd_kafka_mock_topic_create", ctypes.c_int, [_vp, _cp, ctypes.c_int, ctypes.c_int]),
    ("rd_kafka_mock_broker_set_down", ctypes.c_int, [_vp, _i32]),
    ("rd_kafka_mock_broker_set_up", ctypes.c_int, [_vp, _i32]),
    ("rd_kafka_mock_broker_set_host_port", ctypes.c_int, [_vp, _i32, _cp, ctypes.c_int]),
    ("rd_kafka_mock_partition_set_leader", ctypes.c_int, [_vp, _cp, _i32, _i32]),
    ("rd_kafka_mock_push_request_errors_array", None,
     [_vp, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]),
]:
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args


class MockCluster:
    def __init__(self, brokers: int = 3) -> None:
        self.broker_ids = list(range(1, brokers + 1))
        conf = _lib.rd_kafka_conf_new()
        errstr = ctypes.create_string_buffer(512)
        _lib.rd_kafka_conf_set(conf, b"log_level", b"0", errstr, 512)  # the handle itself stays quiet
        self._rk = _lib.rd_kafka_new(0, conf, errstr, 512)
        if not self._rk:
            raise RuntimeError(errstr.value.decode())
        self._mc = _lib.rd_kafka_mock_cluster_new(self._rk, brokers)
        if not self._mc:
            _lib.rd_kafka_destroy(self._rk)
            raise RuntimeError("rd_kafka_mock_cluster_new failed")
        self.bootstrap = _lib.rd_kafka_mock_cluster_bootstraps(self._mc).decode()
        self.hosts = self.bootstrap.split(",")

    def create_topic(self, name: str, partitions: int) -> None:
        err = _lib.rd_kafka_mock_topic_create(self._mc, name.encode(), partitions, 1)
        if err:
            raise RuntimeError(f"cannot create topic {name}: error {err}")

    def broker_down(self, broker_id: int) -> None:
        _lib.rd_kafka_mock_broker_set_down(self._mc, broker_id)

    def broker_up(self, broker_id: int) -> None:
        _lib.rd_kafka_mock_broker_set_up(self._mc, broker_id)

    def set_leader(self, topic: str, partition: int, broker_id: int) -> None:
        """-1: the partition has no leader (metadata says so), as while its broker is being replaced."""
        _lib.rd_kafka_mock_partition_set_leader(self._mc, topic.encode(), partition, broker_id)

    def advertise(self, broker_id: int, host: str, port: int) -> None:
        """The address the metadata gives for `broker_id` (a front such as kafka_proxy.BrokerFront)."""
        _lib.rd_kafka_mock_broker_set_host_port(self._mc, broker_id, host.encode(), port)

    def fail_next_requests(self, api_key: int, errors: list[int]) -> None:
        """The next len(errors) requests of `api_key` (to any broker) answer these error codes."""
        array = (ctypes.c_int * len(errors))(*errors)
        _lib.rd_kafka_mock_push_request_errors_array(self._mc, api_key, len(errors), array)

    def close(self) -> None:
        if self._mc:
            _lib.rd_kafka_mock_cluster_destroy(self._mc)
            self._mc = None
        if self._rk:
            _lib.rd_kafka_destroy(self._rk)
            self._rk = None


def consume_all(bootstrap: str, topics: str | list[str], expected: int, limit_seconds: float = 20.0,
                **properties: Any) -> list[Any]:
    """Every message of `topics` from the start, read by a real consumer (all partitions assigned, no group);
    reading stops `limit_seconds` at the latest, or shortly after `expected` messages (so extras show)."""
    names = [topics] if isinstance(topics, str) else topics
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "packetshipper-test",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 20, "log_level": 0, **properties})
    try:
        assignment = []
        for name in names:
            partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
            assignment += [TopicPartition(name, p, confluent_kafka.OFFSET_BEGINNING) for p in partitions]
        consumer.assign(assignment)
        got: list[Any] = []
        end = time.monotonic() + limit_seconds
        while len(got) < expected and time.monotonic() < end:
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                got.append(message)
        got.extend(_drain(consumer, 0.3))
        return got
    finally:
        consumer.close()


def _drain(consumer: Consumer, seconds: float) -> Iterator[Any]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            yield message
