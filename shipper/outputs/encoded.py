"""Events encoded once, at publish: the JSON document as bytes, with what the output needs beside it.

The publisher turns each event into an `EncodedEvent`: `doc`, the event as JSON without `@metadata`
(exactly what Elasticsearch indexes); `meta`, the event's own `@metadata` (document id, pipeline);
and `fields`, the values of the fields the configured output reads to route it (index, key and topic
format strings, `when` conditions, partition hash fields), by dotted path. The queues carry it as it
is (the disk queue stores the bytes), and outputs write `doc`, adding `@metadata` where the receiver
expects it (`with_metadata`), instead of encoding the event again.

`paths` says which fields `fields` holds; an output that needs more (a disk queue written by a run
with another configuration) has the event decoded once and its fields read again (`EventCodec.ready`,
counted in `decoded`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..conditions import MISSING, lookup

__all__ = ["EncodedEvent", "EventCodec", "EncodeError", "METADATA", "with_metadata", "NO_FIELDS"]

METADATA = "@metadata"
NO_FIELDS: frozenset[str] = frozenset()
_EMPTY: dict[str, Any] = {}
_META_OPEN = b',"@metadata":'


class EncodeError(Exception):
    """The event holds a value JSON cannot express (bytes, a set, a non-string key)."""


class EncodedEvent:
    """One event as the queues carry it (see the module docstring). Treat as immutable."""

    __slots__ = ("doc", "meta", "fields", "paths")

    def __init__(self, doc: bytes, meta: Any = None, fields: dict[str, Any] | None = None,
                 paths: frozenset[str] = NO_FIELDS) -> None:
        self.doc = doc
        self.meta = meta
        self.fields = _EMPTY if fields is None else fields
        self.paths = paths

    def document(self, option: int = 0) -> bytes:
        """The whole event as JSON, its own `@metadata` last (as the event would be encoded)."""
        if self.meta is None:
            return self.doc
        return with_metadata(self.doc, orjson.dumps(self.meta, option=option))

    def decoded(self) -> dict[str, Any]:
        """The event as a dict again (own `@metadata` included): only for what needs arbitrary fields."""
        event: dict[str, Any] = orjson.loads(self.doc)
        if self.meta is not None:
            event[METADATA] = dict(self.meta) if isinstance(self.meta, dict) else self.meta
        return event

    def __repr__(self) -> str:
        return f"EncodedEvent({self.doc[:80]!r}..., meta={self.meta!r})"


def with_metadata(doc: bytes, meta_json: bytes) -> bytes:
    """`doc` (a JSON object) with `"@metadata": meta_json` as its last member."""
    if doc == b"{}":
        return b'{"@metadata":' + meta_json + b"}"
    return b"".join((doc[:-1], _META_OPEN, meta_json, b"}"))


class EventCodec:
    """Encodes events for one output: which fields it reads (`paths`) and how keys are encoded.

    `non_str_keys`: encode non-string dict keys as strings (console and file do, as they always did);
    otherwise such an event cannot be encoded, as for the outputs that refused it before.
    """

    def __init__(self, paths: frozenset[str] = NO_FIELDS, non_str_keys: bool = False) -> None:
        self.paths = frozenset(paths)
        self._paths = tuple(sorted(self.paths))
        self.option = orjson.OPT_NON_STR_KEYS if non_str_keys else 0
        self.decoded = 0  # events decoded after publish to read fields (old disk queue records)

    def encode(self, event: dict[str, Any]) -> EncodedEvent:
        """Raises EncodeError. The event is left as it was."""
        fields = self.fields_of(event) if self._paths else None
        meta = event.pop(METADATA, None) if METADATA in event else None
        try:
            doc = orjson.dumps(event, option=self.option)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            raise EncodeError(str(exc)) from None
        finally:
            if meta is not None:
                event[METADATA] = meta
        return EncodedEvent(doc, meta, fields, self.paths)

    def fields_of(self, event: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for path in self._paths:
            value = lookup(event, path)
            if value is not MISSING:
                out[path] = value
        return out

    def ready(self, event: EncodedEvent) -> EncodedEvent:
        """`event` with every field this codec's output reads (decoding it once if it lacks some)."""
        if self.paths <= event.paths:
            return event
        self.decoded += 1
        return EncodedEvent(event.doc, event.meta, self.fields_of(event.decoded()), self.paths)
