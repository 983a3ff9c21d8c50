"""JSON Schema (draft 2020-12) from field declarations, and event validation against it."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .definition import Arity, FieldDef, FieldType
from .registry import UnknownEventType, load_fields
from .tree import Node, build_tree

__all__ = ["EventValidator", "build_schema", "schema_for", "validate_event"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# RFC 3339 date-time, as Beats writes @timestamp and event.start (`2015-07-11T21:47:24.428Z`).
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_RANGES: Mapping[FieldType, tuple[float, float]] = {FieldType.LONG: (-(2**63), 2**63 - 1), FieldType.INTEGER: (-(2**31), 2**31 - 1)}
_JSON_TYPES = {
    FieldType.KEYWORD: "string",
    FieldType.TEXT: "string",
    FieldType.LONG: "integer",
    FieldType.INTEGER: "integer",
    FieldType.DOUBLE: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "string",
    FieldType.IP: "string",
    FieldType.OBJECT: "object",
}
TYPE_KEY = "x-field-type"  # an annotation naming the declared type, for readable violations

_formats = FormatChecker(formats=())


@_formats.checks("ip", raises=ValueError)
def _is_ip(value: object) -> bool:
    if isinstance(value, str):
        ipaddress.ip_address(value)
    return True


def build_schema(fields: Iterable[FieldDef], title: str = "") -> dict[str, Any]:
    """A closed schema: nested objects, no properties beyond the declared ones."""
    schema = _object_schema(build_tree(fields))
    schema["$schema"] = DRAFT
    if title:
        schema["title"] = title
    return schema


def _object_schema(node: Node) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {key: _node_schema(child) for key, child in node.children.items()},
        "additionalProperties": False,
    }
    required = [key for key, child in node.children.items() if child.definition and child.definition.required]
    if required:
        schema["required"] = required
    return schema


def _node_schema(node: Node) -> dict[str, Any]:
    definition = node.definition
    if definition is None:
        return _object_schema(node)
    if node.children:
        value = _object_schema(node)
    elif definition.type is FieldType.OBJECT:
        value = {"type": "object"}
    else:
        value = _value_schema(definition)
    value[TYPE_KEY] = str(definition.type)
    if definition.description:
        value["description"] = definition.description
    if definition.array is Arity.MANY:
        return {"type": "array", "items": value}
    if definition.array is Arity.EITHER:
        return {"anyOf": [value, {"type": "array", "items": value}]}
    return value


def _value_schema(definition: FieldDef) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[definition.type]}
    if definition.type is FieldType.DATE:
        schema["pattern"] = DATE_PATTERN
    elif definition.type is FieldType.IP:
        schema["format"] = "ip"
    low, high = _RANGES.get(definition.type, (None, None))
    low = definition.minimum if definition.minimum is not None else low
    high = definition.maximum if definition.maximum is not None else high
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    if definition.allowed:
        schema["enum"] = list(definition.allowed)
    if definition.pattern:
        schema["pattern"] = definition.pattern
    return schema


class EventValidator:
    """Checks events against one schema; call it with an event to get its violations."""

    __slots__ = ("_validator",)

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._validator = Draft202012Validator(schema, format_checker=_formats)

    def __call__(self, event: Any) -> list[str]:
        return sorted({line for error in self._validator.iter_errors(event) for line in _describe(error)})


_schemas: dict[str, dict[str, Any]] = {}
_validators: dict[str, EventValidator] = {}


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of `event_type` events (a copy; built once). UnknownEventType if undeclared."""
    return copy.deepcopy(_schema(event_type))


def _schema(event_type: str) -> dict[str, Any]:
    schema = _schemas.get(event_type)
    if schema is None:
        schema = build_schema(load_fields(event_type), title=f"{event_type} event")
        Draft202012Validator.check_schema(schema)
        _schemas[event_type] = schema
    return schema


def _validator(event_type: str) -> EventValidator:
    validator = _validators.get(event_type)
    if validator is None:
        validator = EventValidator(_schema(event_type))
        _validators[event_type] = validator
    return validator


def validate_event(event: Any) -> list[str]:
    """Violations of the schema picked by `event["type"]`, as "dotted.path: reason"; [] if valid."""
    if not isinstance(event, Mapping):
        return [f"<event>: expected a mapping, got {type(event).__name__}"]
    event_type = event.get("type")
    if not isinstance(event_type, str):
        return ["type: missing or not a string, so no schema applies"]
    try:
        validator = _validator(event_type)
    except UnknownEventType as exc:
        return [f"type: {exc}"]
    return validator(event)


def _describe(error: ValidationError) -> Iterator[str]:
    path = _dotted(error.absolute_path)
    kind, instance, schema = error.validator, error.instance, error.schema
    if kind == "additionalProperties":
        declared = schema.get("properties", {})
        for key in sorted(set(instance) - set(declared)):
            yield f"{_join(path, str(key))}: unknown field"
    elif kind == "required":
        for key in error.validator_value:
            if key not in instance:
                yield f"{_join(path, key)}: required field missing"
    elif kind == "anyOf":
        # `array: either`: explain against the branch the value's shape picks.
        branch = 1 if isinstance(instance, list) else 0
        for sub in error.context or ():
            if sub.relative_schema_path and sub.relative_schema_path[0] == branch:
                yield from _describe(sub)
    elif kind == "type":
        expected = schema.get(TYPE_KEY) if error.validator_value != "array" else "a list"
        yield f"{path or '<event>'}: expected {expected or error.validator_value}, got {_json_type(instance)}"
    elif kind == "pattern" and schema.get(TYPE_KEY) == FieldType.DATE:
        yield f"{path}: {instance!r} is not an RFC 3339 date-time"
    elif kind == "format":
        yield f"{path}: {instance!r} is not an IP address"
    elif kind == "enum":
        yield f"{path}: {instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    elif kind in ("minimum", "maximum"):
        yield f"{path}: {instance!r} is out of range ({kind} {error.validator_value})"
    else:
        yield f"{path or '<event>'}: {error.message}"


def _dotted(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return "null" if value is None else type(value).__name__
