"""output.kafka settings: what librdkafka is told, what is refused, and Beats' partitioners without a broker."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("confluent_kafka")

from packetshipper.outputs import OutputError, output_settings  # noqa: E402
from packetshipper.outputs.kafka import (  # noqa: E402
    KafkaOutput,
    _go_float32_g,
    _Partitioner,
    _Topic,
    build_topic_rules,
    check_brokers,
    fnv1a_32,
    librdkafka_config,
    select_topic,
)
from packetshipper.settings import ConfigError, validate  # noqa: E402


def _config(**settings: Any) -> dict[str, Any]:
    return validate(output_settings("kafka"), {"hosts": ["kafka-1:9092", "kafka-2"], "topic": "t", **settings},
                    "output.kafka")


def test_defaults_are_beats_defaults() -> None:
    props = librdkafka_config(_config())
    assert props["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert props["client.id"] == "beats"
    assert props["acks"] == "1"
    assert props["compression.codec"] == "gzip" and props["compression.level"] == 4
    assert props["message.timeout.ms"] == 30000  # timeout: 30s
    assert props["request.timeout.ms"] == 10000  # broker_timeout: 10s
    assert props["queue.buffering.max.messages"] == 2048  # bounded by bulk_max_size
    assert props["batch.size"] == 1000000  # max_message_bytes
    assert props["security.protocol"] == "PLAINTEXT"
    assert "api.version.request" not in props  # 2.1.0 brokers tell their versions


@pytest.mark.parametrize(("settings", "expected"), [
    ({"required_acks": -1}, {"acks": "all"}),
    ({"required_acks": 0}, {"acks": "0"}),
    ({"compression": "zstd"}, {"compression.codec": "zstd"}),
    ({"compression": "gzip", "compression_level": 0}, {"compression.codec": "none"}),
    ({"timeout": "5s", "broker_timeout": "2s"}, {"message.timeout.ms": 5000, "request.timeout.ms": 2000}),
    ({"bulk_max_size": 100, "max_message_bytes": 10240},
     {"queue.buffering.max.messages": 100, "queue.buffering.max.kbytes": 1100, "batch.size": 10240}),
    ({"version": "0.9.0.1"}, {"api.version.request": False, "broker.version.fallback": "0.9.0.1"}),
    ({"client_id": "sensor-7", "bulk_flush_frequency": "20ms"}, {"client.id": "sensor-7", "linger.ms": 20.0}),
    ({"username": "ann", "password": "s3cret"},
     {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "ann",
      "sasl.password": "s3cret"}),
    ({"username": "ann", "password": "x", "sasl.mechanism": "SCRAM-SHA-512"},
     {"sasl.mechanism": "SCRAM-SHA-512"}),
    ({"ssl.enabled": True, "ssl.verification_mode": "none"},
     {"security.protocol": "SSL", "enable.ssl.certificate.verification": False}),
    ({"ssl.enabled": True, "ssl.verification_mode": "certificate", "username": "u"},
     {"security.protocol": "SASL_SSL", "ssl.endpoint.identification.algorithm": "none"}),
])
def test_settings_become_librdkafka_properties(settings: dict[str, Any], expected: dict[str, Any]) -> None:
    props = librdkafka_config(_config(**settings))
    assert {k: props.get(k) for k in expected} == expected


def test_several_ca_files_are_joined_and_librdkafka_takes_every_property(tmp_path: Path) -> None:
    from servers.certs import OPENSSL, make_certificates

    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    certs = make_certificates(tmp_path)
    config = _config(username="u", password="p", **{"sasl.mechanism": "SCRAM-SHA-256"},
                     ssl={"certificate_authorities": [str(certs.ca), str(certs.other_ca)],
                          "certificate": str(certs.cert), "key": str(certs.key)})
    props = librdkafka_config(config)
    assert props["ssl.ca.pem"] == certs.ca.read_text() + "\n" + certs.other_ca.read_text()
    assert props["ssl.certificate.location"] == str(certs.cert)
    out = KafkaOutput(config)
    out._producer()  # librdkafka parses the PEMs and checks every property name and value here
    out.close()


@pytest.mark.parametrize(("settings", "where"), [
    ({"topic": None}, r"output\.kafka\.topic"),
    ({"topic": "%{[type"}, r"output\.kafka\.topic"),
    ({"topics": [{"topic": "a", "when": {"nope": {}}}]}, r"output\.kafka\.topics\.0\.when"),
    ({"topics": [{"topic": "a", "extra": 1}]}, r"output\.kafka\.topics\.0"),
    ({"partition": {"hash": {}, "random": {}}}, r"output\.kafka\.partition"),
    ({"partition": {"sticky": {}}}, r"output\.kafka\.partition"),
    ({"partition": {"random": {"group_events": 0}}}, r"output\.kafka\.partition"),
    ({"partition": {"hash": {"reachable_only": "yes"}}}, r"output\.kafka\.partition"),
    ({"headers": [{"key": "a"}]}, r"output\.kafka\.headers"),
    ({"version": "latest"}, r"output\.kafka\.version"),
    ({"compression": "brotli"}, r"output\.kafka\.compression"),
    ({"required_acks": 2}, r"output\.kafka\.required_acks"),
    ({"sasl.mechanism": "GSSAPI"}, r"output\.kafka\.sasl\.mechanism"),
    ({"hosts": []}, r"output\.kafka\.hosts"),
    ({"partition": {"hash": True}}, r"output\.kafka\.partition: hash: expected a mapping"),
    ({"codec": {"json": 5}}, r"output\.kafka\.codec: codec\.json: expected a mapping"),
    ({"max_message_bytes": 2000000000}, r"output\.kafka\.max_message_bytes"),
])
def test_bad_settings_are_one_config_error_naming_the_key(settings: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        KafkaOutput(_config(**settings))


def test_a_file_librdkafka_cannot_load_is_a_config_error_when_the_output_is_built(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"output\.kafka: librdkafka refused the settings: .*ssl"):
        KafkaOutput(_config(ssl={"certificate_authorities": [str(bogus)]}))
    with pytest.raises(ConfigError, match=r"output\.kafka\.ssl\.certificate: cannot read"):
        KafkaOutput(_config(ssl={"certificate": str(tmp_path / "none.pem"), "key": str(tmp_path / "none.key")}))


def test_beats_only_keys_are_accepted_without_effect() -> None:
    config = _config(channel_buffer_size=512, **{"metadata.full": True})
    KafkaOutput(config).close()


def test_json_codec_pretty_and_escape_html() -> None:
    event = {"url": "/a?b=1&c=<d>"}
    assert KafkaOutput(_config()).encode(event) == b'{"url":"/a?b=1&c=<d>"}'
    escaped = KafkaOutput(_config(**{"codec.json.escape_html": True})).encode(event)
    assert escaped == b'{"url":"/a?b=1\\u0026c=\\u003cd\\u003e"}'
    assert KafkaOutput(_config(**{"codec.json.pretty": True})).encode(event) == b'{\n  "url": "/a?b=1&c=<d>"\n}'


@pytest.mark.parametrize("codec", [{"xml": {}}, {"json": {"indent": 2}}, {"format": {}},
                                   {"json": {}, "format": {"string": "x"}}, {"format": {"string": "%{[a"}}])
def test_bad_codecs_are_config_errors(codec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"output\.kafka\.codec"):
        KafkaOutput(_config(codec=codec))


def test_topics_rules_in_beats_spellings() -> None:
    rules = build_topic_rules("rest", [
        {"topic": "names", "when.equals.type": "dns"},  # YAML's `when.equals.type: dns`
        {"topic": "critical", "when.equals": {"status": "Error"}},
        {"topic": "web-%{[http.request.method]}", "when": {"has_fields": ["http"]}, "default": "web"},
    ], "output.kafka")
    assert select_topic(rules, {"type": "dns", "status": "Error"}) == "names"
    assert select_topic(rules, {"type": "http", "status": "Error"}) == "critical"
    assert select_topic(rules, {"type": "http", "http": {"request": {"method": "GET"}}}) == "web-GET"
    assert select_topic(rules, {"type": "http", "http": {}}) == "web"  # rendering failed: the default
    assert select_topic(rules, {"type": "flow"}) == "rest"


def test_fnv1a_32_test_vectors() -> None:
    # From the FNV reference (draft-eastlake-fnv): "" "a" "foobar".
    assert [fnv1a_32(b""), fnv1a_32(b"a"), fnv1a_32(b"foobar")] == [0x811C9DC5, 0xE40C292C, 0xBF9CF968]


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), (0.1, "0.1"), (100000.0, "100000"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (3.14159265, "3.1415927"), (-2.5, "-2.5"), (0.0, "0"),
])
def test_floats_hash_as_go_formats_them_at_32_bits(value: float, text: str) -> None:
    assert _go_float32_g(value) == text


def test_field_hash_bytes_follow_beats_hash_field_value() -> None:
    part = _Partitioner("hash", {"hash": ["a", "b"], "random": False}, random.Random(1))
    # strings as UTF-8, integers as 8 little-endian bytes, in the order of `hash`
    expected = fnv1a_32(b"x" + (7).to_bytes(8, "little")) & 0x7FFFFFFF
    assert part.choose({"a": "x", "b": 7}, None, 1000) == expected % 1000


def test_reachable_only_spreads_over_partitions_with_a_leader() -> None:
    config = _config(partition={"round_robin": {"reachable_only": True}})
    out = KafkaOutput(config, rng=random.Random(3))
    topic = _Topic([0, 1, 2, 3], [1, 3], _Partitioner("round_robin", {"group_events": 1}, random.Random(3)))
    assert {out._partition(topic, {}, None) for _ in range(10)} == {1, 3}
    everywhere = KafkaOutput(_config(partition={"round_robin": {}}), rng=random.Random(3))
    assert {everywhere._partition(topic, {}, None) for _ in range(10)} == {0, 1, 2, 3}
    with pytest.raises(OutputError):
        out._partition(_Topic([0, 1], [], topic.partitioner), {}, None)


def test_test_output_names_an_unreachable_broker() -> None:
    with pytest.raises(OutputError) as failure:
        check_brokers({"hosts": ["127.0.0.1:1"], "topic": "t", "timeout": "1s"})
    report = str(failure.value)
    assert "127.0.0.1:1... dial up ERROR" in report and "metadata... ERROR" in report
