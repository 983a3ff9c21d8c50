"""drop_event, drop_fields and include_fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..settings import ConfigError
from . import specs
from .base import Event, Processor, ProcessorError
from .fields import MISSING, FieldError, delete, flatten, get, put

__all__ = ["DropEvent", "DropFields", "IncludeFields", "MANDATORY_FIELDS"]

# Kept by include_fields and never dropped by drop_fields (libbeat's mandatory fields; its @timestamp and
# @metadata live outside the event's fields, so neither processor can reach them).
MANDATORY_FIELDS = ("@timestamp", "@metadata", "type")


def _names_or_patterns(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError("expected a list of field names or /regular expressions/")
    return list(value)


class DropEvent(Processor):
    name = "drop_event"

    def run(self, event: Event) -> Event | None:
        return None


class DropFields(Processor):
    """`fields` are names, or regular expressions between slashes (`/^http\\.request\\./`) matched against
    every dotted field name of the event."""

    name = "drop_fields"
    spec = {
        "fields": specs.required(_names_or_patterns, "fields to remove"),
        "ignore_missing": specs.flag(False, "a field that is not there is no error"),
    }
    fail_on_error = False  # libbeat drops the other fields and reports the missing one

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.names: list[str] = []
        self.patterns: list[re.Pattern[str]] = []
        for i, item in enumerate(config["fields"]):
            if len(item) > 1 and item.startswith("/") and item.endswith("/"):
                try:
                    self.patterns.append(re.compile(item[1:-1]))
                except re.error as exc:
                    raise ConfigError(f"{path}.fields.{i}", f"bad regular expression: {exc}") from None
            elif item not in MANDATORY_FIELDS:
                self.names.append(item)
        self.ignore_missing: bool = config["ignore_missing"]

    def run(self, event: Event) -> Event | None:
        missing = []
        for name in self.names:
            try:
                delete(event, name)
            except FieldError:
                if not self.ignore_missing:
                    missing.append(name)
        if self.patterns:
            for name, _value in list(flatten(event)):
                if name.split(".", 1)[0] not in MANDATORY_FIELDS and any(p.search(name) for p in self.patterns):
                    delete(event, name)
        if missing:
            raise ProcessorError(f"failed to drop field(s) {', '.join(f'[{m}]' for m in missing)}: not found")
        return event


class IncludeFields(Processor):
    """Keeps only `fields` (whole objects for object names) and the mandatory ones."""

    name = "include_fields"
    spec = {"fields": specs.required(specs.field_names, "fields to keep; the others are removed")}

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.fields = [f for f in config["fields"] if f not in MANDATORY_FIELDS]

    def run(self, event: Event) -> Event | None:
        kept: Event = {key: event[key] for key in MANDATORY_FIELDS if key in event}
        for name in self.fields:
            value = get(event, name)
            if value is not MISSING:
                put(kept, name, value)
        return kept
