"""Outputs route an encoded event by the fields carried beside its bytes: the index, key or topic (and
Elasticsearch pipeline) chosen from them is the one the same rules choose from the whole event."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packetshipper.compat import DEFAULT_IDENTITY
from packetshipper.outputs import output_settings
from packetshipper.outputs.elasticsearch import ElasticsearchOutput
from packetshipper.outputs.encoded import EventCodec
from packetshipper.outputs.fields_used import condition_fields, rule_fields
from packetshipper.outputs.index_format import SelectorError, build_selector
from packetshipper.outputs.redis import RedisOutput
from packetshipper.settings import validate

RULES: list[dict[str, Any]] = [
    {"index": "dns-%{[agent.version]}", "when.equals": {"type": "dns"}},
    {"index": "slow-%{+yyyy.MM}", "when": {"range": {"event.duration.gte": 1000}}},
    {"index": "web", "when": {"and": [{"has_fields": ["http.request.method"]},
                                      {"not": {"contains": {"url.full": "/health"}}}]}},
    {"index": "%{[type]}", "mappings": {"icmp": "pings"}, "default": "other",
     "when": {"or": [{"regexp": {"network.transport": "^(icmp|ipv6-icmp)$"}},
                     {"network": {"source.ip": "private"}}]}},
    {"index": "nested", "when": {"equals": {"status": {"code": 7}}}},
]
SINGLE = "fallback-%{[agent][version]:none}"

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.sampled_from(
    ["dns", "http", "icmp", "GET", "/health", "/x", "10.1.2.3", "8.8.8.8", "8.17.0", "ipv6-icmp"]))
_events = st.fixed_dictionaries({}, optional={
    "@timestamp": st.sampled_from(["2015-07-11T21:47:24.428Z", "bogus"]),
    "type": _scalars,
    "agent": st.one_of(_scalars, st.fixed_dictionaries({}, optional={"version": _scalars})),
    "agent.version": _scalars,
    "event": st.fixed_dictionaries({}, optional={"duration": _scalars}),
    "http": st.fixed_dictionaries({}, optional={"request": st.fixed_dictionaries({}, optional={"method": _scalars})}),
    "url": st.fixed_dictionaries({}, optional={"full": _scalars}),
    "network": st.fixed_dictionaries({}, optional={"transport": _scalars}),
    "source": st.fixed_dictionaries({}, optional={"ip": _scalars}),
    "status": st.one_of(_scalars, st.fixed_dictionaries({}, optional={"code": st.integers(6, 8)})),
    "@metadata": st.fixed_dictionaries({}, optional={"_id": st.sampled_from(["a", "b"])}),
})


def _choice(select: Any, view: Any) -> str:
    try:
        return str(select(view))
    except SelectorError as exc:
        return f"error: {exc}"


@settings(max_examples=400, deadline=None)
@given(_events)
@example({"type": "dns", "agent": {"version": "8.17.0"}})
@example({"type": "http", "agent.version": "8.1", "event": {"duration": 1000}, "@timestamp": "2015-07-11T21:47:24.428Z"})
@example({"http": {"request": {"method": "GET"}}, "url": {"full": "/health"}, "type": "icmp",
          "network": {"transport": "icmp"}})
@example({"http": {"request": {"method": None}}, "url": {"full": "/x"}})
@example({"type": "http", "source": {"ip": "10.1.2.3"}})
@example({"status": {"code": 7}, "@metadata": {"_id": "a"}})
def test_the_carried_fields_choose_what_the_whole_event_chooses(event: dict[str, Any]):
    selector = build_selector(SINGLE, RULES, "index", "output.elasticsearch.indices", lowercase=True)
    codec = EventCodec(frozenset(rule_fields(SINGLE, RULES, "index")))
    encoded = codec.encode(dict(event))
    assert _choice(selector.select, encoded.fields) == _choice(selector.select, event)


def test_each_condition_names_the_fields_it_reads():
    assert condition_fields({"equals.type": "dns"}) == {"type"}
    assert condition_fields({"range": {"http.response.status_code.gte": 400}}) >= {"http.response.status_code"}
    assert condition_fields({"range": {"http": {"response": {"status_code": {"lt": 500}}}}}) >= \
        {"http.response.status_code"}
    assert condition_fields({"not": {"or": [{"has_fields": ["a", "b.c"]}, {"network": {"d": "private"}}]}}) == \
        {"a", "b.c", "d"}
    assert condition_fields({"and": [{"regexp": {"e": "x"}}, {"contains": {"f.g": "y"}}]}) == {"e", "f.g"}


def _es(**settings: Any) -> ElasticsearchOutput:
    output = ElasticsearchOutput(validate(output_settings("elasticsearch"), settings, "output.elasticsearch"))
    output.use_identity(DEFAULT_IDENTITY)
    return output


def test_elasticsearch_carries_what_its_index_and_pipeline_rules_read_and_never_metadata():
    assert _es().fields_used() == {"agent.version"}  # the default index
    assert _es(index="constant").fields_used() == frozenset()
    output = _es(index="x-%{+yyyy}", pipeline="%{[@metadata.pipe]}",
                 pipelines=[{"pipeline": "p-%{[type]}", "when.has_fields": ["dns.id"]}])
    assert output.fields_used() == {"@timestamp", "type", "dns.id"}


def test_redis_carries_what_its_key_rules_read():
    config = validate(output_settings("redis"), {"hosts": ["localhost"], "keys": [
        {"key": "k-%{[type]}", "when.equals": {"network.protocol": "dns"}}]}, "output.redis")
    assert RedisOutput(config).fields_used() == {"type", "network.protocol"}


def test_a_kafka_output_carries_topic_key_and_hash_fields():
    kafka = pytest.importorskip("packetshipper.outputs.kafka")
    pytest.importorskip("confluent_kafka")
    config = validate(kafka.KAFKA_SETTINGS, {
        "hosts": ["localhost:9092"], "topic": "t-%{[type]}", "key": "%{[source.ip]}",
        "topics": [{"topic": "slow", "when.range": {"event.duration.gt": 5}}],
        "partition": {"hash": {"hash": ["destination.ip"]}}}, "output.kafka")
    assert kafka.KafkaOutput(config).fields_used() == {"type", "source.ip", "event.duration", "destination.ip"}
