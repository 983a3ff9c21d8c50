"""Events are checked against their type's schema: wrong types, unknown fields and bad values are named."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import Envelope, transaction_event
from packetshipper.fields import EventValidator, build_schema, parse_fields, schema_for, validate_event
from packetshipper.protocol import Connection, Endpoint, Status, Transaction

COMMON = parse_fields(resources.files("packetshipper.fields").joinpath("common.yml").read_text(), "common.yml")
# A stand-in module, so that these tests depend on the common envelope only.
MODULE = parse_fields(
    """
- {name: demo.code, type: long}
- {name: demo.headers, type: object}
- {name: demo.answers, type: object, array: true}
- {name: demo.answers.name, type: keyword}
- {name: demo.answers.ttl, type: long}
""",
    "demo.yml",
)
check_demo = EventValidator(build_schema(COMMON + MODULE))


def qinq_flow() -> dict[str, Any]:
    """Packetbeat's test_0060_flows.py test_q_in_q_flow expectations, nested, with ECS MACs."""
    return {
        "@timestamp": "2017-04-04T14:57:33.371Z",
        "type": "flow",
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"],
            "action": "network_flow",
            "dataset": "flow",
            "start": "2017-04-04T14:57:33.371Z",
            "end": "2017-04-04T14:57:33.371Z",
            "duration": 0,
        },
        "flow": {"id": "EQQA////DP//////FP8BAQAIACc9JU4cr/dw7XwEAagBAQQAqAEC", "final": True, "vlan": [101, 600]},
        "source": {"ip": "192.168.1.1", "bytes": 82, "packets": 1, "mac": "08-00-27-3D-25-4E"},
        "destination": {"ip": "192.168.1.2", "mac": "1C-AF-F7-70-ED-7C"},
        "network": {"type": "ipv4", "transport": "icmp", "bytes": 82, "packets": 1},
    }


def demo_transaction() -> dict[str, Any]:
    """What the core's transaction envelope and Envelope.wrap produce, with the stand-in module's fields."""
    connection = Connection(
        "tcp", 4, Endpoint("10.0.0.1", 5555, "0A-00-27-00-00-00"), Endpoint("10.0.0.2", 80),
        vlans=(10,), community_id="1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    )  # fmt: skip
    txn: Transaction[str, str] = Transaction(
        connection, "GET", None, 1436651244.428, 1436651244.5, 120, 0, Status.ERROR, "Unmatched request", ("note",)
    )
    event = transaction_event("demo", txn, {"demo": {"code": 7, "answers": [{"name": "a.", "ttl": 5}]}})
    return Envelope(name="probe", tags=["lab"], fields={"site": {"rack": 4}}).wrap(event)


def test_the_core_transaction_envelope_matches_common_yml() -> None:
    assert check_demo(demo_transaction()) == []


def test_packetbeat_qinq_flow_event_is_valid(assert_valid_event: Any) -> None:
    assert_valid_event(qinq_flow())


def test_flow_vlan_is_one_id_or_a_list_of_them() -> None:
    event = qinq_flow()
    event["flow"]["vlan"] = 10
    assert validate_event(event) == []
    event["flow"]["vlan"] = "10"
    assert validate_event(event) == ["flow.vlan: expected long, got string"]
    event["flow"]["vlan"] = [101, "600"]
    assert validate_event(event) == ["flow.vlan[1]: expected long, got string"]
    event["flow"]["vlan"] = 4096
    assert validate_event(event) == ["flow.vlan: 4096 is out of range (maximum 4095)"]


@pytest.mark.parametrize(
    "path,value,violation",
    [
        (("source", "port"), "80", "source.port: expected long, got string"),
        (("source", "port"), 70000, "source.port: 70000 is out of range (maximum 65535)"),
        (("source", "bytes"), True, "source.bytes: expected long, got boolean"),
        (("source", "bytes"), 1.5, "source.bytes: expected long, got number"),
        (("source", "bytes"), -1, "source.bytes: -1 is out of range (minimum 0)"),
        (("flow", "final"), "true", "flow.final: expected boolean, got string"),
        (("source", "ip"), "192.168.1.300", "source.ip: '192.168.1.300' is not an IP address"),
        (("source", "mac"), "08:00:27:3d:25:4e", "source.mac: '08:00:27:3d:25:4e' does not match"),
        (("event", "start"), "2017-04-04 14:57:33", "event.start: '2017-04-04 14:57:33' is not an RFC 3339 date-time"),
        (("event", "type"), "connection", "event.type: expected a list, got string"),
        (("event", "action"), "network_connection", "event.action: 'network_connection' is not one of network_flow"),
        (("network", "type"), "ipv5", "network.type: 'ipv5' is not one of ipv4, ipv6"),
        (("network", "community_id"), "2:abc", "network.community_id: '2:abc' does not match"),
        (("network",), "ipv4", "network: expected object, got string"),
        (("source", "nickname"), "x", "source.nickname: unknown field"),
        (("packetbeat_only",), 1, "packetbeat_only: unknown field"),
        (("flow", "vlan"), {"id": 1}, "flow.vlan: expected long, got an object"),
    ],
)
def test_wrong_values_are_named_by_dotted_path(path: tuple[str, ...], value: Any, violation: str) -> None:
    event = qinq_flow()
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    problems = validate_event(event)
    assert len(problems) == 1, problems
    assert problems[0].startswith(violation)


def test_every_violation_is_reported_not_just_the_first() -> None:
    event = qinq_flow()
    event["source"]["port"] = "x"
    event["destination"]["port"] = "y"
    del event["@timestamp"]
    event["extra"] = 1
    assert validate_event(event) == [
        "@timestamp: required field missing",
        "destination.port: expected long, got string",
        "extra: unknown field",
        "source.port: expected long, got string",
    ]


def test_required_field_missing_under_an_object() -> None:
    event = qinq_flow()
    del event["flow"]["final"]
    assert validate_event(event) == ["flow.final: required field missing"]


def test_free_form_objects_accept_any_contents_and_structured_lists_are_checked() -> None:
    event = demo_transaction()
    event["demo"]["headers"] = {"content-length": 0, "x-any": ["a", {"b": None}]}
    assert check_demo(event) == []
    event["demo"]["answers"] = [{"name": "a.", "ttl": "59"}, {"name": "b.", "class": "IN"}]
    assert check_demo(event) == ["demo.answers[0].ttl: expected long, got string", "demo.answers[1].class: unknown field"]


def test_envelope_values_are_checked() -> None:
    event = demo_transaction()
    event["status"] = "Fine"
    event["related"]["ip"] = ["10.0.0.1", "nonsense"]
    event["tags"] = "lab"
    assert check_demo(event) == [
        "related.ip[1]: 'nonsense' is not an IP address",
        "status: 'Fine' is not one of OK, Error, Server Error, Client Error",
        "tags: expected a list, got string",
    ]


def test_event_without_a_usable_type_gets_one_violation() -> None:
    assert validate_event({"@timestamp": "2017-04-04T14:57:33.371Z"}) == [
        "type: missing or not a string, so no schema applies"
    ]
    assert validate_event({"type": 7}) == ["type: missing or not a string, so no schema applies"]
    (problem,) = validate_event({"type": "gopher"})
    assert problem.startswith("type: unknown event type 'gopher' (known: ") and "flow" in problem
    assert validate_event(["not", "an", "event"]) == ["<event>: expected a mapping, got list"]


def test_schema_is_draft_2020_12_closed_at_every_level() -> None:
    schema = schema_for("flow")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"@timestamp", "type"}
    flow = schema["properties"]["flow"]
    assert flow["additionalProperties"] is False and flow["required"] == ["id", "final"]
    vlan = flow["properties"]["vlan"]
    assert vlan["anyOf"][0]["type"] == "integer" and vlan["anyOf"][1]["type"] == "array"
    assert schema["properties"]["related"]["properties"]["ip"]["type"] == "array"
    assert schema["properties"]["fields"]["type"] == "object" and "properties" not in schema["properties"]["fields"]


def test_schema_for_returns_a_copy() -> None:
    schema_for("flow")["properties"].clear()
    assert validate_event(qinq_flow()) == []
    assert schema_for("flow")["properties"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["flow", "source", "event", "network", "type", "tags", "x"]), json_values))
def test_arbitrary_json_yields_violations_never_an_exception(noise: dict[str, Any]) -> None:
    event = copy.deepcopy(qinq_flow())
    event.update(noise)
    problems = validate_event(event)
    assert all(isinstance(p, str) and ": " in p for p in problems)
