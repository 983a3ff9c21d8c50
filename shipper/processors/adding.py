"""add_fields, add_tags, add_labels, add_locale and add_id."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import Setting
from . import specs
from .base import Event, Processor, ProcessorError
from .fields import MISSING, FieldError, get, put

__all__ = ["AddFields", "AddTags", "AddLabels", "AddLocale", "AddId", "merge_into", "expand_dotted"]


def expand_dotted(value: Mapping[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1}` as `{"a": {"b": 1}}`, as libbeat reads its config."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            item = expand_dotted(item)
        head, dot, rest = str(key).partition(".")
        if dot:
            item, key = expand_dotted({rest: item}), head
        current = out.get(key)
        out[key] = _merged(current, item) if isinstance(current, Mapping) and isinstance(item, Mapping) else item
    return out


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        current = out.get(key)
        out[key] = _merged(current, value) if isinstance(current, Mapping) and isinstance(value, Mapping) else value
    return out


def merge_into(event: Event, target: str, value: Mapping[str, Any]) -> None:
    """Deep-merge `value` into the object at `target` ("" is the event itself), replacing what is not an object."""
    if not target:
        event.update(_merged(event, value))
        return
    current = get(event, target)
    try:
        put(event, target, _merged(current if isinstance(current, Mapping) else {}, value))
    except FieldError as exc:
        raise ProcessorError(str(exc)) from None


def _mapping(value: Any) -> dict[str, Any]:
    converted: dict[str, Any] = s.any_mapping().convert(value)
    return converted


class AddFields(Processor):
    name = "add_fields"
    spec = {
        "fields": specs.required(_mapping, "fields to add (nested objects are merged)"),
        "target": Setting(s.string, "fields", "object to add them under; \"\" adds them at the event root"),
    }

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.fields = expand_dotted(config["fields"])
        self.target: str = config["target"]

    def run(self, event: Event) -> Event | None:
        merge_into(event, self.target, self.fields)
        return event


class AddTags(Processor):
    name = "add_tags"
    spec = {
        "tags": specs.required(s.string_list, "tags to add"),
        "target": Setting(specs.field_name, "tags", "list field to add them to"),
    }

    def run(self, event: Event) -> Event | None:
        target = self.config["target"]
        current = get(event, target)
        if current is MISSING or current is None:
            current = []
        elif not isinstance(current, list):
            raise ProcessorError(f"[{target}] is a {type(current).__name__}, not a list of tags")
        try:
            put(event, target, [*current, *self.config["tags"]])  # a new list: the old one may be shared
        except FieldError as exc:
            raise ProcessorError(str(exc)) from None
        return event


def _flat_labels(value: Any, prefix: str, out: dict[str, Any]) -> None:
    items = value.items() if isinstance(value, Mapping) else enumerate(value)
    for key, item in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping | list) and item:
            _flat_labels(item, name, out)
        else:
            out[name] = item


class AddLabels(Processor):
    """Labels are flat: nested keys and list positions are joined with dots (`labels["nested.a"]`)."""

    name = "add_labels"
    spec = {"labels": specs.required(_mapping, "labels to add under `labels`")}

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.labels: dict[str, Any] = {}
        _flat_labels(config["labels"], "", self.labels)

    def run(self, event: Event) -> Event | None:
        merge_into(event, "labels", self.labels)
        return event


class AddLocale(Processor):
    """`event.timezone` from this host's clock: `+01:00` (offset) or `CET` (abbreviation)."""

    name = "add_locale"
    spec = {"format": Setting(s.one_of("offset", "abbreviation"), "offset", "offset (+01:00) or abbreviation (CET)")}

    def run(self, event: Event) -> Event | None:
        now = time.localtime()
        if self.config["format"] == "abbreviation":
            zone = now.tm_zone
        else:
            minutes = now.tm_gmtoff // 60
            sign = "-" if minutes < 0 else "+"
            zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        put(event, "event.timezone", zone)
        return event


class _TimeBasedIds:
    """Elasticsearch's time-based ids (what libbeat's add_id makes): 15 bytes of timestamp, sequence and a
    random node id, URL-safe base64 without padding: 20 characters, ordered by time for the terms index."""

    def __init__(self) -> None:
        self.node = os.urandom(6)
        self.sequence = int.from_bytes(os.urandom(3), "big")
        self.last = 0

    def __call__(self) -> str:
        self.sequence = (self.sequence + 1) & 0xFFFFFF
        now = max(self.last, int(time.time() * 1000))
        if self.sequence == 0:  # the sequence wrapped within one millisecond: move the clock on
            now += 1
        self.last = now
        seq, ts = self.sequence, now
        raw = bytes((seq & 0xFF, (seq >> 16) & 0xFF, (ts >> 16) & 0xFF, (ts >> 24) & 0xFF, (ts >> 32) & 0xFF,
                     (ts >> 40) & 0xFF)) + self.node + bytes(((ts >> 8) & 0xFF, (seq >> 8) & 0xFF, ts & 0xFF))
        return base64.urlsafe_b64encode(raw).decode("ascii")


class AddId(Processor):
    name = "add_id"
    spec = {
        "target_field": Setting(specs.field_name, "@metadata._id", "where the id goes (the Elasticsearch "
                                "output takes the document id from @metadata._id)"),
        "type": Setting(s.one_of("elasticsearch"), "elasticsearch", "id generator: elasticsearch (time based)"),
    }

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.next_id = _TimeBasedIds()

    def run(self, event: Event) -> Event | None:
        try:
            put(event, self.config["target_field"], self.next_id())
        except FieldError as exc:
            raise ProcessorError(str(exc)) from None
        return event
