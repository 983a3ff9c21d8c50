"""Event field declarations: fields/common.yml plus each module's fields.yml (format in README.md).

They give the JSON Schema events are validated against (unknown fields fail) and the Elasticsearch
index template.
"""

from __future__ import annotations

from .definition import Arity, FieldDef, FieldsError, FieldType, ObjectMapping, parse_fields
from .registry import UnknownEventType, event_types, load_fields
from .schema import EventValidator, build_schema, schema_for, validate_event
from .template import index_template, mappings

__all__ = [
    "Arity",
    "EventValidator",
    "FieldDef",
    "FieldType",
    "FieldsError",
    "ObjectMapping",
    "UnknownEventType",
    "build_schema",
    "event_types",
    "index_template",
    "load_fields",
    "mappings",
    "parse_fields",
    "schema_for",
    "validate_event",
]
