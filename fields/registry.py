"""Finding the fields.yml files: fields/common.yml plus one per module, built in or from an entry point."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from importlib.resources.abc import Traversable
from pathlib import Path

from .definition import FieldDef, merge_definitions, parse_fields

__all__ = ["UnknownEventType", "event_types", "load_fields", "fields_file"]

ENTRY_POINT_GROUP = "packetshipper.modules"
# Event types whose module folder has another name.
_FOLDER_FOR_TYPE = {"flow": "flows"}
_TYPE_FOR_FOLDER = {folder: event_type for event_type, folder in _FOLDER_FOR_TYPE.items()}


class UnknownEventType(LookupError):
    """No fields.yml declares this event type."""


def event_types() -> list[str]:
    """Every event type that has a fields.yml (built-in modules and installed third-party ones)."""
    return sorted(_module_files())


def fields_file(event_type: str) -> Traversable:
    """The fields.yml of `event_type`'s module; UnknownEventType if there is none."""
    try:
        return _module_files()[event_type]
    except KeyError:
        known = ", ".join(event_types()) or "none"
        raise UnknownEventType(f"unknown event type {event_type!r} (known: {known})") from None


def load_fields(event_type: str | None = None) -> list[FieldDef]:
    """The fields an event of `event_type` may carry: the common envelope plus the module's own.

    A module may declare a common field again to narrow it (say, `array: either`), but not change
    its type. With no type, every module's fields, where declarations of one name must agree on the
    type (they share one index mapping).
    """
    if event_type is None:
        return list(_all_fields())
    return list(_fields_of(event_type))


@functools.cache
def _fields_of(event_type: str) -> tuple[FieldDef, ...]:
    merged = {definition.name: definition for definition in _common()}
    for definition in _module_fields(event_type):
        base = merged.get(definition.name)
        if base is not None:
            merge_definitions(base, definition)  # raises when the index mappings disagree
        merged[definition.name] = definition
    return tuple(merged.values())


@functools.cache
def _all_fields() -> tuple[FieldDef, ...]:
    merged: dict[str, FieldDef] = {}
    for event_type in event_types():
        _collect(merged, _fields_of(event_type))
    _collect(merged, _common())
    return tuple(merged.values())


def _collect(merged: dict[str, FieldDef], fields: Iterable[FieldDef]) -> None:
    for definition in fields:
        base = merged.get(definition.name)
        merged[definition.name] = definition if base is None else merge_definitions(base, definition)


@functools.cache
def _common() -> tuple[FieldDef, ...]:
    source = resources.files(__package__).joinpath("common.yml")
    return tuple(parse_fields(source.read_text(encoding="utf-8"), "fields/common.yml"))


@functools.cache
def _module_fields(event_type: str) -> tuple[FieldDef, ...]:
    source = fields_file(event_type)
    return tuple(parse_fields(source.read_text(encoding="utf-8"), _display_name(event_type, source)))


@functools.cache
def _module_files() -> dict[str, Traversable]:
    files: dict[str, Traversable] = {}
    for folder in resources.files("packetshipper.modules").iterdir():
        candidate = folder.joinpath("fields.yml")
        if folder.is_dir() and candidate.is_file():
            files[_TYPE_FOR_FOLDER.get(folder.name, folder.name)] = candidate
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name not in files:  # a built-in module keeps its name
            third_party = _entry_point_fields(entry_point)
            if third_party is not None:
                files[entry_point.name] = third_party
    return files


def _entry_point_fields(entry_point: EntryPoint) -> Traversable | None:
    """fields.yml next to a third-party module (`package.module:Class`), found without importing it."""
    try:
        spec = importlib.util.find_spec(entry_point.module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        folders = [Path(location) for location in spec.submodule_search_locations]
    elif spec.origin:
        folders = [Path(spec.origin).parent]
    else:
        return None
    for folder in folders:
        if (folder / "fields.yml").is_file():
            return folder / "fields.yml"
    return None


def _display_name(event_type: str, source: Traversable) -> str:
    folder = _FOLDER_FOR_TYPE.get(event_type, event_type)
    if str(source).endswith(f"{folder}/fields.yml"):
        return f"modules/{folder}/fields.yml"
    return str(source)

