"""The Elasticsearch composable index template built from the field declarations."""

from __future__ import annotations

from typing import Any

import pytest
from packetshipper.fields import index_template, load_fields, mappings, parse_fields
from packetshipper.version import __version__


def prop(body: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = body["template"]["mappings"]
    for key in dotted.split("."):
        node = node["properties"][key]
    return node


def test_template_body_shape() -> None:
    body = index_template("packetshipper-*")
    assert body["index_patterns"] == ["packetshipper-*"]
    assert body["priority"] == 150
    assert body["_meta"] == {"managed_by": "packetshipper", "version": __version__}
    assert "data_stream" not in body
    assert set(body["template"]) == {"settings", "mappings"}
    assert body["template"]["settings"]["index"]["mapping"]["total_fields"]["limit"] == 10000
    mapping = body["template"]["mappings"]
    assert mapping["date_detection"] is False
    assert mapping["dynamic_templates"] == [
        {"strings_as_keyword": {"match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 1024}}}
    ]


@pytest.mark.parametrize(
    "dotted,mapping",
    [
        ("@timestamp", {"type": "date"}),
        ("type", {"type": "keyword", "ignore_above": 1024}),
        ("source.ip", {"type": "ip"}),
        ("source.port", {"type": "long"}),
        ("destination.bytes", {"type": "long"}),
        ("related.ip", {"type": "ip"}),  # arrays map like their elements
        ("flow.final", {"type": "boolean"}),
        ("flow.vlan", {"type": "long"}),
        ("event.duration", {"type": "long"}),
        ("network.community_id", {"type": "keyword", "ignore_above": 1024}),
        ("error.message", {"type": "text"}),
        ("request", {"type": "text"}),
        ("fields", {"type": "object", "dynamic": True}),
        ("host.containerized", {"type": "boolean"}),
    ],
)
def test_fields_map_to_elasticsearch_types(dotted: str, mapping: dict[str, Any]) -> None:
    assert prop(index_template("packetshipper-*"), dotted) == mapping


def test_every_declared_field_is_mapped_except_metadata() -> None:
    body = index_template("packetshipper-*")
    for definition in load_fields():
        if definition.name.startswith("@metadata"):
            continue
        assert "type" in prop(body, definition.name) or "properties" in prop(body, definition.name), definition.name
    assert "@metadata" not in body["template"]["mappings"]["properties"]


def test_data_stream_template() -> None:
    body = index_template("logs-packetshipper-default", data_stream=True)
    assert body["data_stream"] == {}
    assert prop(body, "@timestamp") == {"type": "date"}  # data streams require it


def test_settings_merge_over_the_defaults() -> None:
    body = index_template("packetshipper-*", settings={"index": {"number_of_shards": 3, "refresh_interval": "30s"}})
    assert body["template"]["settings"] == {
        "index": {"mapping": {"total_fields": {"limit": 10000}}, "refresh_interval": "30s", "number_of_shards": 3}
    }
    # The defaults are not changed by a caller's settings.
    assert index_template("packetshipper-*")["template"]["settings"]["index"]["refresh_interval"] == "5s"


@pytest.mark.parametrize("pattern", ["", "Packetshipper-*", "a b", "a,b", "a/b", "_hidden", "..", "x#1", "a:b"])
def test_invalid_index_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="not a valid index pattern"):
        index_template(pattern)


def test_object_fields_map_by_their_declared_mapping() -> None:
    fields = parse_fields(
        """
- {name: a.headers, type: object}
- {name: a.raw, type: object, mapping: disabled}
- {name: a.custom, type: object, mapping: dynamic}
- {name: a.answers, type: object, array: true}
- {name: a.answers.ttl, type: long}
- {name: "@metadata", type: object}
""",
        "x.yml",
    )
    result = mappings(fields)["properties"]
    assert result == {
        "a": {
            "properties": {
                "answers": {"properties": {"ttl": {"type": "long"}}},
                "custom": {"type": "object", "dynamic": True},
                "headers": {"type": "flattened"},
                "raw": {"type": "object", "enabled": False},
            }
        }
    }
