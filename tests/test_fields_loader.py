"""Reading fields.yml: the declarations shipped with the project load, and malformed ones are refused clearly."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from packetshipper.fields import (
    Arity,
    FieldDef,
    FieldsError,
    FieldType,
    ObjectMapping,
    UnknownEventType,
    build_schema,
    event_types,
    load_fields,
    parse_fields,
    schema_for,
)
from packetshipper.fields.definition import merge_definitions


def by_name(fields: list[FieldDef]) -> dict[str, FieldDef]:
    return {f.name: f for f in fields}


def test_every_shipped_fields_file_loads_and_gives_a_valid_json_schema() -> None:
    assert "flow" in event_types()
    for event_type in event_types():
        assert load_fields(event_type), event_type
        Draft202012Validator.check_schema(schema_for(event_type))
    # All modules together: declarations of one name must agree on the index mapping type.
    assert len(load_fields()) >= len(load_fields("flow"))


def test_common_fields_carry_the_envelope_with_ecs_types() -> None:
    common = by_name(load_fields("flow"))
    assert common["@timestamp"].type is FieldType.DATE and common["@timestamp"].required
    assert common["type"].required
    assert common["related.ip"].type is FieldType.IP and common["related.ip"].array is Arity.MANY
    assert common["event.duration"].type is FieldType.LONG
    assert common["network.community_id"].type is FieldType.KEYWORD
    assert common["network.vlan.id"].type is FieldType.KEYWORD  # ECS declares it keyword
    assert common["fields"].mapping is ObjectMapping.DYNAMIC
    assert common["status"].allowed == ("OK", "Error", "Server Error", "Client Error")


def test_flow_fields_narrow_the_common_ones() -> None:
    flow = by_name(load_fields("flow"))
    assert flow["flow.vlan"].array is Arity.EITHER and flow["flow.vlan"].type is FieldType.LONG
    assert flow["flow.final"].type is FieldType.BOOLEAN
    assert flow["source.ip"].array is Arity.EITHER  # a list when IP is tunneled in IP
    assert flow["event.action"].allowed == ("network_flow",)
    assert "modules/flows/fields.yml" in flow["flow.id"].source
    assert "fields/common.yml" in flow["agent.name"].source


def test_all_fields_include_each_modules_own() -> None:
    everything = by_name(load_fields())
    for event_type in event_types():
        for definition in load_fields(event_type):
            assert everything[definition.name].type is definition.type


def test_unknown_event_type_raises_naming_the_known_ones() -> None:
    with pytest.raises(UnknownEventType, match="'nosuch'.*flow"):
        load_fields("nosuch")


def test_parse_reads_every_key() -> None:
    fields = parse_fields(
        """
- name: a.b
  type: long
  array: either
  required: true
  minimum: 0
  maximum: 10
  description: "  padded  "
  example: 3
- name: a.c
  type: keyword
  allowed: [x, y]
  pattern: "^[xy]$"
- name: a.d
  type: object
  mapping: disabled
""",
        "inline.yml",
    )
    b, c, d = fields
    assert (b.name, b.type, b.array, b.required, b.minimum, b.maximum, b.description) == (
        "a.b", FieldType.LONG, Arity.EITHER, True, 0, 10, "padded"
    )
    assert b.source == "inline.yml" and b.example == 3
    assert (c.allowed, c.pattern, c.array) == (("x", "y"), "^[xy]$", Arity.ONE)
    assert d.mapping is ObjectMapping.DISABLED


def test_empty_file_declares_nothing() -> None:
    assert parse_fields("", "empty.yml") == []


@pytest.mark.parametrize(
    "text,message",
    [
        ("- name: a\n  type: [", "x.yml: not valid YAML"),
        ("name: a\ntype: long\n", "x.yml: expected a list of field entries, got dict"),
        ("- just a string\n", "x.yml: entry 0: expected a mapping"),
        ("- type: long\n", r"x.yml: entry 0: name must be a dotted field path, got None"),
        ("- name: a..b\n  type: long\n", "name must be a dotted field path"),
        ("- name: a\n  type: float\n", r"entry 0 \(a\): type must be one of"),
        ("- name: a\n  type: long\n  array: 1\n", "array must be true, false or either"),
        ("- name: a\n  type: long\n  array: [x]\n", "array must be true, false or either"),
        ("- name: a\n  type: long\n  colour: red\n", r"unknown keys \['colour'\]"),
        ("- name: a\n  type: long\n  required: yes please\n", "required must be true or false"),
        ("- name: a\n  type: long\n  allowed: [x]\n", "allowed applies to keyword and text fields only"),
        ("- name: a\n  type: keyword\n  allowed: x\n", "allowed must be a list of strings"),
        ("- name: a\n  type: keyword\n  pattern: '('\n", "pattern is not a regular expression"),
        ("- name: a\n  type: keyword\n  minimum: 1\n", "minimum applies to numeric fields only"),
        ("- name: a\n  type: long\n  maximum: ten\n", "maximum must be a number"),
        ("- name: a\n  type: keyword\n  mapping: flattened\n", "mapping applies to object fields only"),
        ("- name: a\n  type: object\n  mapping: nested\n", "mapping must be one of"),
        ("- name: a\n  type: long\n- name: a\n  type: long\n", "x.yml: a: declared twice"),
    ],
)
def test_malformed_declarations_are_refused_naming_file_and_entry(text: str, message: str) -> None:
    with pytest.raises(FieldsError, match=message):
        parse_fields(text, "x.yml")


def test_a_scalar_field_cannot_have_fields_under_it() -> None:
    with pytest.raises(FieldsError, match="a.b.c: declared under a.b, which is a long"):
        build_schema(parse_fields("- {name: a.b, type: long}\n- {name: a.b.c, type: long}\n", "x.yml"))
    with pytest.raises(FieldsError, match="a.b: declared as keyword but has fields under it"):
        build_schema(parse_fields("- {name: a.b.c, type: long}\n- {name: a.b, type: keyword}\n", "x.yml"))


def test_object_mapping_is_only_for_free_form_objects() -> None:
    text = "- {name: a, type: object, mapping: dynamic}\n- {name: a.b, type: long}\n"
    with pytest.raises(FieldsError, match="a: mapping applies to free-form objects"):
        build_schema(parse_fields(text, "x.yml"))


def test_two_declarations_with_different_index_types_conflict() -> None:
    (first,) = parse_fields("- {name: url.port, type: long}\n", "fields/common.yml")
    (second,) = parse_fields("- {name: url.port, type: keyword}\n", "modules/x/fields.yml")
    with pytest.raises(FieldsError, match="url.port: declared as long in fields/common.yml but as keyword in modules/x"):
        merge_definitions(first, second)


def test_two_declarations_that_agree_on_the_type_merge_to_the_wider_one() -> None:
    (first,) = parse_fields("- {name: s.ip, type: ip, required: true}\n", "a.yml")
    (second,) = parse_fields("- {name: s.ip, type: ip, array: true}\n", "b.yml")
    merged = merge_definitions(first, second)
    assert (merged.type, merged.array, merged.required) == (FieldType.IP, Arity.EITHER, False)
