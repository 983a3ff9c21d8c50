"""One declared event field, and reading a fields.yml file into a list of them."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

__all__ = ["FieldsError", "FieldType", "Arity", "ObjectMapping", "FieldDef", "parse_fields", "merge_definitions"]


class FieldsError(Exception):
    """A fields.yml file is malformed, or two declarations of one field disagree."""


class FieldType(enum.StrEnum):
    KEYWORD = "keyword"
    TEXT = "text"
    LONG = "long"
    INTEGER = "integer"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    IP = "ip"
    OBJECT = "object"


class Arity(enum.StrEnum):
    """How many values a field holds: `array:` false (one), true (a list) or `either`."""

    ONE = "one"
    MANY = "many"
    EITHER = "either"  # one value, or a list when there are several (Packetbeat's flow.vlan, source.ip)


class ObjectMapping(enum.StrEnum):
    """How a free-form `object` field is indexed."""

    FLATTENED = "flattened"  # one field, keys searchable, no mapping explosion
    DYNAMIC = "dynamic"  # a regular object; new keys get mapped as they come (custom `fields`)
    DISABLED = "disabled"  # kept in _source, not indexed


_FIELD_TYPES: Mapping[str, FieldType] = {t.value: t for t in FieldType}
_ARRAY_VALUES: Mapping[Any, Arity] = {False: Arity.ONE, True: Arity.MANY, "either": Arity.EITHER}
_NAME = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$")
_KEYS = frozenset(
    {"name", "type", "description", "array", "required", "allowed", "pattern", "minimum", "maximum", "mapping",
     "example"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A dotted field path and what its values look like."""

    name: str
    type: FieldType
    description: str = ""
    array: Arity = Arity.ONE
    required: bool = False
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    mapping: ObjectMapping | None = None  # only for a free-form `object`; None means flattened
    example: Any = field(default=None, compare=False, hash=False)
    source: str = field(default="", compare=False, hash=False)  # the file that declared it


def parse_fields(text: str, source: str) -> list[FieldDef]:
    """Read a fields.yml document (a flat list of field entries); FieldsError names file and entry."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FieldsError(f"{source}: not valid YAML: {exc}") from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise FieldsError(f"{source}: expected a list of field entries, got {type(document).__name__}")
    out: list[FieldDef] = []
    seen: set[str] = set()
    for index, entry in enumerate(document):
        definition = _parse_entry(entry, f"{source}: entry {index}")
        if definition.name in seen:
            raise FieldsError(f"{source}: {definition.name}: declared twice")
        seen.add(definition.name)
        out.append(replace(definition, source=source))
    return out


def _parse_entry(entry: Any, where: str) -> FieldDef:
    if not isinstance(entry, Mapping):
        raise FieldsError(f"{where}: expected a mapping with name and type, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise FieldsError(f"{where}: name must be a dotted field path, got {name!r}")
    where = f"{where} ({name})"
    unknown = set(entry) - _KEYS
    if unknown:
        raise FieldsError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    raw_type = entry.get("type")
    field_type = _FIELD_TYPES.get(raw_type) if isinstance(raw_type, str) else None
    if field_type is None:
        raise FieldsError(f"{where}: type must be one of {[t.value for t in FieldType]}, got {raw_type!r}")
    array = entry.get("array", False)
    if not (isinstance(array, bool) or array == "either"):
        raise FieldsError(f"{where}: array must be true, false or either, got {array!r}")
    required = entry.get("required", False)
    if not isinstance(required, bool):
        raise FieldsError(f"{where}: required must be true or false, got {required!r}")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise FieldsError(f"{where}: description must be a string")
    return FieldDef(
        name=name,
        type=field_type,
        description=description.strip(),
        array=_ARRAY_VALUES[array],
        required=required,
        allowed=_allowed(entry, field_type, where),
        pattern=_pattern(entry, field_type, where),
        minimum=_bound(entry, "minimum", field_type, where),
        maximum=_bound(entry, "maximum", field_type, where),
        mapping=_mapping(entry, field_type, where),
        example=entry.get("example"),
    )


def _allowed(entry: Mapping[str, Any], field_type: FieldType, where: str) -> tuple[str, ...]:
    allowed = entry.get("allowed", [])
    if allowed and field_type not in (FieldType.KEYWORD, FieldType.TEXT):
        raise FieldsError(f"{where}: allowed applies to keyword and text fields only")
    if not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed):
        raise FieldsError(f"{where}: allowed must be a list of strings")
    return tuple(allowed)


def _pattern(entry: Mapping[str, Any], field_type: FieldType, where: str) -> str | None:
    pattern = entry.get("pattern")
    if pattern is None:
        return None
    if field_type not in (FieldType.KEYWORD, FieldType.TEXT):
        raise FieldsError(f"{where}: pattern applies to keyword and text fields only")
    if not isinstance(pattern, str):
        raise FieldsError(f"{where}: pattern must be a string")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FieldsError(f"{where}: pattern is not a regular expression: {exc}") from None
    return pattern


def _bound(entry: Mapping[str, Any], key: str, field_type: FieldType, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if field_type not in (FieldType.LONG, FieldType.INTEGER, FieldType.DOUBLE):
        raise FieldsError(f"{where}: {key} applies to numeric fields only")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldsError(f"{where}: {key} must be a number, got {value!r}")
    return value


def _mapping(entry: Mapping[str, Any], field_type: FieldType, where: str) -> ObjectMapping | None:
    mapping = entry.get("mapping")
    if field_type is not FieldType.OBJECT:
        if mapping is not None:
            raise FieldsError(f"{where}: mapping applies to object fields only")
        return None
    if mapping is None:
        return None  # flattened when free-form
    try:
        return ObjectMapping(mapping)
    except ValueError:
        raise FieldsError(f"{where}: mapping must be one of {[m.value for m in ObjectMapping]}") from None


def merge_definitions(first: FieldDef, second: FieldDef) -> FieldDef:
    """One definition for a field two files declare. Index mappings must agree; the rest is widened."""
    if first.type is not second.type or first.mapping is not second.mapping:
        raise FieldsError(
            f"{first.name}: declared as {_describe(first)} in {first.source} "
            f"but as {_describe(second)} in {second.source}"
        )
    if first == second:
        return first
    return replace(
        first,
        array=first.array if first.array is second.array else Arity.EITHER,
        required=first.required and second.required,
        allowed=first.allowed if first.allowed == second.allowed else (),
        pattern=first.pattern if first.pattern == second.pattern else None,
        minimum=first.minimum if first.minimum == second.minimum else None,
        maximum=first.maximum if first.maximum == second.maximum else None,
    )


def _describe(definition: FieldDef) -> str:
    if definition.mapping is not None:
        return f"{definition.type} ({definition.mapping})"
    return str(definition.type)
