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

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from .. import hotpath
from ..conditions import MISSING, path_getter

__all__ = ["EncodedEvent", "EventCodec", "EncodeError", "METADATA", "with_metadata", "NO_FIELDS", "pack_event",
           "unpack_event"]

METADATA = "@metadata"
NO_FIELDS: frozenset[str] = frozenset()
_EMPTY: dict[str, Any] = {}
_META_OPEN = b',"@metadata":'


class EncodeError(Exception):
    """The event holds a value JSON cannot express (bytes, a set, a non-string key)."""


class _EventFields:
    """EncodedEvent's fields (the compiled path's `EncodedEventFields` is its twin)."""

    __slots__ = ("doc", "meta", "fields", "paths")

    def __init__(self, doc: bytes, meta: Any = None, fields: dict[str, Any] | None = None,
                 paths: frozenset[str] = NO_FIELDS) -> None:
        self.doc = doc
        self.meta = meta
        self.fields = _EMPTY if fields is None else fields
        self.paths = paths


_EventBase: type = getattr(hotpath.compiled, "EncodedEventFields", _EventFields) if hotpath.enabled else _EventFields


# encoded_events(EncodedEvent, docs, routed, paths, next_id, id_key): the publisher's batch of events, made in
# C (only where EncodedEvent's base is the compiled one).
compiled_events: Callable[..., list[Any]] | None = (getattr(hotpath.compiled, "encoded_events", None)
                                                     if _EventBase is not _EventFields else None)


class EncodedEvent(_EventBase):  # type: ignore[misc, valid-type]
    """One event as the queues carry it (see the module docstring). Treat as immutable."""

    __slots__ = ()
    doc: bytes
    meta: Any
    fields: dict[str, Any]
    paths: frozenset[str]

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


def encoded_batch(docs: Sequence[bytes], routed: dict[str, Any] | None, paths: frozenset[str],
                  next_id: Callable[[], str] | None = None, id_key: str = "") -> list[EncodedEvent]:
    """[EncodedEvent(doc, None if next_id is None else {id_key: next_id()}, routed, paths) for doc in docs]:
    a batch of documents as events (the publisher's sink, the workers' inbox), made in C where it can be."""
    if compiled_events is not None and hotpath.enabled:
        return compiled_events(EncodedEvent, docs, routed, paths, next_id, id_key)
    if next_id is None:
        return [EncodedEvent(doc, None, routed, paths) for doc in docs]
    return [EncodedEvent(doc, {id_key: next_id()}, routed, paths) for doc in docs]


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
        self._getters = tuple((path, path_getter(path)) for path in self._paths)
        self.option = orjson.OPT_NON_STR_KEYS if non_str_keys else 0
        self.decoded = 0  # events decoded after publish to read fields (old disk queue records)
        self.encode = self._encoder()

    def _encoder(self) -> Callable[[dict[str, Any]], EncodedEvent]:
        """`encode(event)`, on the hot path: raises EncodeError; the event is left as it was."""
        dumps, option, paths, make = orjson.dumps, self.option, self.paths, EncodedEvent
        fields_of = self.fields_of if self._getters else None

        def encode(event: dict[str, Any]) -> EncodedEvent:
            fields = fields_of(event) if fields_of is not None else None
            try:
                if METADATA not in event:
                    return make(dumps(event, option=option), None, fields, paths)
                meta = event.pop(METADATA)
                try:
                    dumps(meta, option=option)  # outputs encode it later: what JSON cannot express fails here
                    return make(dumps(event, option=option), meta, fields, paths)
                finally:
                    event[METADATA] = meta
            except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
                raise EncodeError(str(exc)) from None

        return encode

    def fields_of(self, event: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for path, get in self._getters:
            value = get(event)
            if value is not MISSING:
                out[path] = value
        return out

    def ready(self, event: EncodedEvent) -> EncodedEvent:
        """`event` with every field this codec's output reads (decoding it once if it lacks some)."""
        if self.paths <= event.paths:
            return event
        self.decoded += 1
        return EncodedEvent(event.doc, event.meta, self.fields_of(event.decoded()), self.paths)


_LENGTHS = struct.Struct("<III")  # document, @metadata, fields: byte lengths of the parts that follow


def pack_event(event: EncodedEvent) -> bytes:
    """`event` as bytes (a disk queue record, or a message from a worker process): the three lengths,
    the document, @metadata as JSON (empty: none), then `[paths, {path: value}]` as JSON (empty: no
    fields). Raises TypeError if @metadata holds what JSON cannot express."""
    meta = b"" if event.meta is None else orjson.dumps(event.meta, option=orjson.OPT_NON_STR_KEYS)
    fields = b"" if not event.paths else orjson.dumps([sorted(event.paths), event.fields],
                                                       option=orjson.OPT_NON_STR_KEYS)
    return b"".join((_LENGTHS.pack(len(event.doc), len(meta), len(fields)), event.doc, meta, fields))


def unpack_event(data: bytes | bytearray | memoryview,
                 known: dict[tuple[str, ...], frozenset[str]] | None = None) -> EncodedEvent:
    """What `pack_event` packed; ValueError if `data` is not that. `known` shares one `paths` set per
    configuration among the events read (bounded: cleared past 64)."""
    if len(data) < _LENGTHS.size:
        raise ValueError("too short for an encoded event")
    doc_len, meta_len, fields_len = _LENGTHS.unpack_from(data)
    start = _LENGTHS.size
    if start + doc_len + meta_len + fields_len != len(data) or doc_len < 2:
        raise ValueError("the parts of the encoded event do not add up")
    doc = bytes(data[start : start + doc_len])
    start += doc_len
    meta = orjson.loads(data[start : start + meta_len]) if meta_len else None
    start += meta_len
    if not fields_len:
        return EncodedEvent(doc, meta)
    paths, values = orjson.loads(data[start:])
    if not isinstance(paths, list) or not isinstance(values, dict):
        raise ValueError("the fields of the encoded event are not [paths, values]")
    key = tuple(str(p) for p in paths)
    shared = known.get(key) if known is not None else None
    if shared is None:
        shared = frozenset(key)
        if known is not None:
            if len(known) >= 64:
                known.clear()
            known[key] = shared
    return EncodedEvent(doc, meta, values, shared)
