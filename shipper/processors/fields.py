"""Reading and writing event fields by dotted name, as libbeat's event maps do, without touching shared dicts.

A name is looked up the way libbeat's maps find keys: at each level the rest of the name as a literal key
first (`labels` may hold `"with.dots"`), then the part before the first dot, descending. Writes never
change a nested dict in place: every dict on the way is copied first (copy on write). Events share dicts
with each other and with the config (`agent`, `host`, custom `fields`), and a processor that fails is
undone by keeping a shallow copy of the event's top level (see `Chain`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from ..conditions import MISSING

__all__ = ["MISSING", "FieldError", "get", "put", "delete", "flatten", "add_error"]


class FieldError(Exception):
    """A field is missing, or a value stands where a name needs an object."""


def get(event: Mapping[str, Any], name: str) -> Any:
    """The value at `name`, or MISSING."""
    node: Any = event
    key = name
    while True:
        if key in node:
            return node[key]
        head, dot, key = key.partition(".")
        if not dot:
            return MISSING
        node = node.get(head, MISSING)
        if not isinstance(node, Mapping):
            return MISSING


def put(event: dict[str, Any], name: str, value: Any) -> None:
    """Set `name` to `value`, creating the objects on the way; a non-object on the way is a FieldError."""
    node = event
    key = name
    while key not in node:
        head, dot, rest = key.partition(".")
        if not dot:
            break
        child = node.get(head, MISSING)
        if child is MISSING:
            child = {}
        elif isinstance(child, Mapping):
            child = dict(child)
        else:
            raise FieldError(f"cannot set [{name}]: [{head}] holds a {type(child).__name__}, not an object")
        node[head] = child
        node, key = child, rest
    node[key] = value


def delete(event: dict[str, Any], name: str) -> Any:
    """Remove `name` and return its value; FieldError if it is not there."""
    heads: list[str] = []
    node: Any = event
    key = name
    while key not in node:
        head, dot, key = key.partition(".")
        child = node.get(head, MISSING) if dot else MISSING
        if not isinstance(child, Mapping):
            raise FieldError(f"field [{name}] not found")
        heads.append(head)
        node = child
    # Copy the objects on the way down, then remove from the copy of the innermost one.
    parent = event
    for head in heads:
        copied = dict(parent[head])
        parent[head] = copied
        parent = copied
    return parent.pop(key)


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value) of every leaf under `value`; an empty object is a leaf."""
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            yield from flatten(item, name)
        else:
            yield name, item


def add_error(event: dict[str, Any], message: str) -> None:
    """Add `message` to `error.message`, keeping what is there (a text becomes a list of texts)."""
    current = get(event, "error.message")
    if current is MISSING or current is None:
        new: Any = message
    elif isinstance(current, list):
        new = [*current, message]
    else:
        new = [current, message]
    with contextlib.suppress(FieldError):  # `error` is not an object: the error is still counted
        put(event, "error.message", new)
