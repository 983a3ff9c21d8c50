"""Elasticsearch index mappings and the composable index template body, from the field declarations."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from packetshipper.event import deep_merge
from packetshipper.version import __version__

from .definition import FieldDef, FieldType, ObjectMapping
from .registry import load_fields
from .tree import Node, build_tree

__all__ = ["index_template", "mappings", "DEFAULT_SETTINGS", "TEMPLATE_PRIORITY"]

KEYWORD_IGNORE_ABOVE = 1024
# Above Elasticsearch's built-in templates (priority 100), as Beats does.
TEMPLATE_PRIORITY = 150
DEFAULT_SETTINGS: Mapping[str, Any] = {
    "index": {"mapping": {"total_fields": {"limit": 10000}}, "refresh_interval": "5s"},
}
# Index names may not contain these (Elasticsearch's rules); `*` is allowed in a pattern.
_BAD_PATTERN = re.compile(r'[\\/?"<>| ,#:A-Z]|^[-_+]|^\.{1,2}$')

_SCALARS: Mapping[FieldType, Mapping[str, Any]] = {
    FieldType.KEYWORD: {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
    FieldType.TEXT: {"type": "text"},
    FieldType.LONG: {"type": "long"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.DOUBLE: {"type": "double"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "date"},
    FieldType.IP: {"type": "ip"},
}
_OBJECTS: Mapping[ObjectMapping | None, Mapping[str, Any]] = {
    None: {"type": "flattened"},
    ObjectMapping.FLATTENED: {"type": "flattened"},
    ObjectMapping.DYNAMIC: {"type": "object", "dynamic": True},
    ObjectMapping.DISABLED: {"type": "object", "enabled": False},
}


def index_template(index_pattern: str, *, data_stream: bool = False, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body for `PUT _index_template/<name>`: every declared field mapped, for `index_pattern`.

    `settings` are merged over DEFAULT_SETTINGS. ValueError if the pattern is not a valid index name.
    """
    if not isinstance(index_pattern, str) or not index_pattern or _BAD_PATTERN.search(index_pattern):
        raise ValueError(f"not a valid index pattern: {index_pattern!r} (lowercase, no spaces or \\/?\"<>|,#:)")
    body: dict[str, Any] = {
        "index_patterns": [index_pattern],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": deep_merge(copy.deepcopy(dict(DEFAULT_SETTINGS)), settings or {}),
            "mappings": mappings(load_fields()),
        },
        "_meta": {"managed_by": "packetshipper", "version": __version__},
    }
    if data_stream:
        body["data_stream"] = {}
    return body


def mappings(fields: Iterable[FieldDef]) -> dict[str, Any]:
    """`mappings` for the fields; `@metadata` is never indexed (outputs strip it)."""
    root = build_tree(f for f in fields if f.name != "@metadata" and not f.name.startswith("@metadata."))
    return {
        "date_detection": False,
        "dynamic_templates": [
            {"strings_as_keyword": {"match_mapping_type": "string",
                                    "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}},
        ],
        "properties": _properties(root),
    }  # fmt: skip


def _properties(node: Node) -> dict[str, Any]:
    return {key: _mapping(child) for key, child in sorted(node.children.items())}


def _mapping(node: Node) -> dict[str, Any]:
    definition = node.definition
    if definition is None or node.children:
        return {"properties": _properties(node)}
    if definition.type is FieldType.OBJECT:
        return dict(_OBJECTS[definition.mapping])
    return dict(_SCALARS[definition.type])
