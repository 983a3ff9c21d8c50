"""Index names from Beats format strings and `indices` rules (also used for Redis keys)."""

from __future__ import annotations

from typing import Any

import pytest
from packetshipper.outputs.index_format import FormatString, SelectorError, build_selector
from packetshipper.settings import ConfigError

EVENT: dict[str, Any] = {
    "@timestamp": "2015-07-01T09:08:07.654Z",
    "agent": {"version": "8.11.0", "name": "Sensor-1"},
    "type": "http",
    "status": "Error",
    "http": {"response": {"status_code": 503}},
    "source": {"ip": "10.1.2.3"},
    "fields.log_type": "proxy",
    "tags": ["edge", "dmz"],
}


@pytest.mark.parametrize(("text", "expected"), [
    ("packetshipper-%{[agent.version]}", "packetshipper-8.11.0"),
    ("packetshipper-%{[agent][version]}", "packetshipper-8.11.0"),
    ("ps-%{+yyyy.MM.dd}", "ps-2015.07.01"),
    ("ps-%{+yyyy.MM.dd'T'HH:mm:ss.SSS}", "ps-2015.07.01T09:08:07.654"),
    ("ps-%{+yy-M-d-H}", "ps-15-7-1-9"),
    ("%{[fields.log_type]}-x", "proxy-x"),
    ("%{[missing]:fallback}-%{[type]}", "fallback-http"),
    ("%{[http.response.status_code]}", "503"),
    ("constant", "constant"),
])
def test_format_strings_render_fields_and_the_event_date(text: str, expected: str) -> None:
    assert FormatString(text).render(EVENT) == expected


def test_a_missing_field_without_fallback_is_a_selector_error() -> None:
    with pytest.raises(SelectorError, match="missing"):
        FormatString("x-%{[nope.nothing]}").render(EVENT)


def test_a_date_needs_an_rfc3339_timestamp() -> None:
    with pytest.raises(SelectorError, match="@timestamp"):
        FormatString("x-%{+yyyy}").render({"@timestamp": 12})


@pytest.mark.parametrize("text", ["x-%{+qq}", "x-%{[]}", "x-%{agent.version}"])
def test_malformed_format_strings_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        FormatString(text)


def test_rules_pick_the_first_matching_index_then_the_default_index() -> None:
    rules = [
        {"index": "critical-%{[agent.version]}", "when.equals": {"http.response.status_code": 503}},
        {"index": "http-%{+yyyy.MM.dd}", "when": {"equals": {"type": "http"}}},
    ]
    selector = build_selector("ps-%{[agent.version]}", rules, "index", "indices", lowercase=True)
    assert selector.select(EVENT) == "critical-8.11.0"
    assert selector.select({**EVENT, "http": {}}) == "http-2015.07.01"
    assert selector.select({**EVENT, "type": "dns", "http": {}}) == "ps-8.11.0"


def test_mappings_translate_a_field_value_and_default_catches_the_rest() -> None:
    rules = [{"index": "%{[type]}", "mappings": {"http": "web", "dns": "names"}, "default": "other"}]
    selector = build_selector(None, rules, "index", "indices")
    assert selector.select(EVENT) == "web"
    assert selector.select({**EVENT, "type": "mysql"}) == "other"
    assert selector.select({"no": "type"}) == "other"


def test_names_are_lowercased_for_elasticsearch_but_not_for_redis_keys() -> None:
    assert build_selector("PS-%{[agent.name]}", [], "index", "i", lowercase=True).select(EVENT) == "ps-sensor-1"
    assert build_selector("PS-%{[agent.name]}", [], "key", "k").select(EVENT) == "PS-Sensor-1"


def test_an_event_no_rule_can_name_is_a_selector_error() -> None:
    selector = build_selector(None, [{"index": "x", "when.equals": {"type": "dns"}}], "index", "indices")
    with pytest.raises(SelectorError):
        selector.select(EVENT)


@pytest.mark.parametrize(("condition", "matches"), [
    ({"contains": {"status": "Err"}}, True),
    ({"contains": {"tags": "dm"}}, True),
    ({"regexp": {"agent.name": "^Sensor-[0-9]+$"}}, True),
    ({"range": {"http.response.status_code.gte": 500, "http.response.status_code.lt": 600}}, True),
    ({"range": {"http.response.status_code.lt": 500}}, False),
    ({"has_fields": ["source.ip", "type"]}, True),
    ({"has_fields": ["destination.ip"]}, False),
    ({"network": {"source.ip": "private"}}, True),
    ({"network": {"source.ip": ["192.168.0.0/16", "loopback"]}}, False),
    ({"network": {"source.ip": "10.1.0.0/16"}}, True),
    ({"or": [{"equals": {"type": "dns"}}, {"equals": {"type": "http"}}]}, True),
    ({"and": [{"equals": {"type": "http"}}, {"not": {"equals": {"status": "Error"}}}]}, False),
    ({"equals": {"http.response.status_code": "503"}}, True),
])
def test_when_conditions_follow_beats_semantics(condition: dict[str, Any], matches: bool) -> None:
    selector = build_selector(None, [{"index": "hit", "when": condition}], "index", "indices")
    try:
        assert (selector.select(EVENT) == "hit") is matches
    except SelectorError:
        assert not matches


@pytest.mark.parametrize("rule", [
    {"index": "x", "when": {"bogus": {}}},
    {"index": "x", "when": {"range": {"a.between": 1}}},
    {"index": "x", "when": {"network": {"a": "not-a-net"}}},
    {"index": "x", "extra": 1},
    {"when": {"equals": {"a": 1}}},
])
def test_bad_rules_are_config_errors_naming_the_rule(rule: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"indices\.0"):
        build_selector("d", [rule], "index", "output.elasticsearch.indices")
