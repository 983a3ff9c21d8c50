"""Dotted field names folded into the nested shape events have, for the schema and the index mapping."""

from __future__ import annotations

from collections.abc import Iterable

from .definition import FieldDef, FieldsError, FieldType

__all__ = ["Node", "build_tree"]


class Node:
    """One key of the event: its declaration (None for an implied parent object) and its sub-keys."""

    __slots__ = ("definition", "children")

    def __init__(self) -> None:
        self.definition: FieldDef | None = None
        self.children: dict[str, Node] = {}

    @property
    def is_object(self) -> bool:
        return self.definition is None or self.definition.type is FieldType.OBJECT

    @property
    def is_free_form(self) -> bool:
        """A declared object with nothing declared under it: any contents are accepted."""
        return self.definition is not None and self.definition.type is FieldType.OBJECT and not self.children


def build_tree(fields: Iterable[FieldDef]) -> Node:
    root = Node()
    for definition in fields:
        node = root
        parts = definition.name.split(".")
        for depth, part in enumerate(parts):
            node = node.children.setdefault(part, Node())
            declared = node.definition
            if depth < len(parts) - 1 and declared is not None and declared.type is not FieldType.OBJECT:
                parent = ".".join(parts[: depth + 1])
                raise FieldsError(f"{definition.name}: declared under {parent}, which is a {declared.type}")
        if definition.type is not FieldType.OBJECT and node.children:
            raise FieldsError(f"{definition.name}: declared as {definition.type} but has fields under it")
        node.definition = definition
    _check_structured_objects(root, "")
    return root


def _check_structured_objects(node: Node, path: str) -> None:
    for key, child in node.children.items():
        name = f"{path}.{key}" if path else key
        if child.children and child.definition is not None and child.definition.mapping is not None:
            raise FieldsError(f"{name}: mapping applies to free-form objects, but fields are declared under it")
        _check_structured_objects(child, name)
