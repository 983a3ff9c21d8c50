"""Converters for processor keys, and validation of list entries with their own keys (rename's `fields`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import ConfigError, Setting, Spec, validate

__all__ = ["field_name", "field_names", "entry_list", "validate_entries", "flag", "required"]


def field_name(value: Any) -> str:
    name = s.string(value)
    if not name or name.startswith(".") or name.endswith(".") or ".." in name:
        raise ValueError(f"expected a field name such as http.request.method, got {s.quote(value)}")
    return name


def field_names(value: Any) -> list[str]:
    """A list of field names (one name alone is a list of one)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of field names, got {s.quote(value)}")
    return [field_name(item) for item in value]


def entry_list(value: Any) -> list[Mapping[str, Any]]:
    """A list of mappings, each checked later against its own keys (see `validate_entries`)."""
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"expected a list of mappings, got {s.quote(value)}")
    return list(value)


def validate_entries(entries: list[Mapping[str, Any]], spec: Spec, path: str) -> list[dict[str, Any]]:
    return [validate(spec, entry, f"{path}.{i}") for i, entry in enumerate(entries)]


def flag(default: bool, doc: str) -> Setting:
    return Setting(s.boolean, default, doc)


def required(convert: Any, doc: str) -> Setting:
    return Setting(convert, None, doc, required=True)


def need_one(path: str, config: Mapping[str, Any], *keys: str) -> None:
    """Exactly one of `keys` is set (libbeat's mutually exclusive options)."""
    given = [key for key in keys if config.get(key) is not None]
    if len(given) != 1:
        raise ConfigError(path, f"set exactly one of {', '.join(keys)}")
