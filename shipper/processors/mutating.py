"""rename, copy_fields, truncate_fields and replace: libbeat's field-by-field editors.

Each takes `ignore_missing` (a field that is not there is no error) and `fail_on_error` (true: the first
error undoes the processor's changes and is reported in `error.message`; false: the other fields are
still done, and the error is only counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import ConfigError, Setting
from . import specs
from .base import Event, Processor, ProcessorError
from .fields import MISSING, FieldError, delete, get, put

__all__ = ["Rename", "CopyFields", "TruncateFields", "Replace"]

_EDIT_FLAGS = {
    "ignore_missing": specs.flag(False, "a field that is not there is no error"),
    "fail_on_error": specs.flag(True, "on an error undo this processor's changes and report it in error.message; "
                                "false: go on with the other fields"),
}
_FROM_TO = {
    "from": specs.required(specs.field_name, "field to take"),
    "to": specs.required(specs.field_name, "field to write; it must not exist yet"),
}


class _FieldEditor(Processor):
    """Runs `edit` on each entry; errors as `fail_on_error` says."""

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.fail_on_error = config["fail_on_error"]
        self.report_errors = self.fail_on_error
        self.ignore_missing: bool = config["ignore_missing"]

    def edit(self, event: Event, entry: Any) -> None:
        raise NotImplementedError

    def run(self, event: Event) -> Event | None:
        errors = []
        for entry in self.entries:
            try:
                self.edit(event, entry)
            except (ProcessorError, FieldError) as exc:
                if self.fail_on_error:
                    raise
                errors.append(str(exc))
        if errors:
            raise ProcessorError("; ".join(errors))
        return event

    entries: list[Any] = []

    def _take(self, event: Event, name: str) -> Any:
        """The value of `name`, MISSING if it is not there and `ignore_missing` allows that."""
        value = get(event, name)
        if value is MISSING and not self.ignore_missing:
            raise ProcessorError(f"field [{name}] not found")
        return value


def _no_target(event: Event, name: str) -> None:
    if get(event, name) is not MISSING:
        raise ProcessorError(f"target field [{name}] already exists, drop or rename this field first")


class Rename(_FieldEditor):
    name = "rename"
    spec = {"fields": specs.required(specs.entry_list, "{from, to} pairs, done in order"), **_EDIT_FLAGS}

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.entries = specs.validate_entries(config["fields"], _FROM_TO, f"{path}.fields")

    def edit(self, event: Event, entry: Any) -> None:
        source, target = entry["from"], entry["to"]
        if self._take(event, source) is MISSING:
            return
        _no_target(event, target)
        put(event, target, delete(event, source))


class CopyFields(_FieldEditor):
    name = "copy_fields"
    spec = {"fields": specs.required(specs.entry_list, "{from, to} pairs, done in order"), **_EDIT_FLAGS}

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.entries = specs.validate_entries(config["fields"], _FROM_TO, f"{path}.fields")

    def edit(self, event: Event, entry: Any) -> None:
        value = self._take(event, entry["from"])
        if value is MISSING:
            return
        _no_target(event, entry["to"])
        put(event, entry["to"], value)  # shared safely: writes never change an object in place


class TruncateFields(_FieldEditor):
    """Cut text fields to `max_bytes` (UTF-8, never inside a character) or `max_characters`; a cut event
    gets `log.flags: [truncated]`, as libbeat marks it."""

    name = "truncate_fields"
    spec = {
        "fields": specs.required(specs.field_names, "text fields to cut"),
        "max_bytes": Setting(s.at_least(1), None, "longest value in UTF-8 bytes (or max_characters)"),
        "max_characters": Setting(s.at_least(1), None, "longest value in characters (or max_bytes)"),
        **_EDIT_FLAGS,
    }

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        specs.need_one(path, config, "max_bytes", "max_characters")
        self.entries = list(config["fields"])
        self.max_bytes: int | None = config["max_bytes"]
        self.max_characters: int | None = config["max_characters"]

    def run(self, event: Event) -> Event | None:
        self.cut = False
        out = super().run(event)
        if self.cut:
            flags = get(event, "log.flags")
            flags = [] if flags is MISSING or not isinstance(flags, list) else flags
            if "truncated" not in flags:
                put(event, "log.flags", [*flags, "truncated"])
        return out

    def edit(self, event: Event, entry: Any) -> None:
        value = self._take(event, entry)
        if value is MISSING:
            return
        if not isinstance(value, str):
            raise ProcessorError(f"field [{entry}] is a {type(value).__name__}, not text")
        if self.max_characters is not None:
            if len(value) <= self.max_characters:
                return
            cut = value[: self.max_characters]
        else:
            assert self.max_bytes is not None
            raw = value.encode("utf-8", "surrogatepass")
            if len(raw) <= self.max_bytes:
                return
            cut = raw[: self.max_bytes].decode("utf-8", "ignore")  # drops a character cut in two
        put(event, entry, cut)
        self.cut = True

    cut = False


_GO_GROUP = re.compile(r"\$(\d+|\{\w+\}|\$)")


def _python_replacement(text: str) -> str:
    """Go's ReplaceAllString template (`$1`, `${name}`, `$$`) in Python's re.sub form."""
    escaped = text.replace("\\", "\\\\")

    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "$":
            return "$"
        return f"\\g<{ref.strip('{}')}>"

    return _GO_GROUP.sub(one, escaped)


class Replace(_FieldEditor):
    name = "replace"
    spec = {"fields": specs.required(specs.entry_list, "{field, pattern, replacement} entries"), **_EDIT_FLAGS}
    _ENTRY = {
        "field": specs.required(specs.field_name, "text field to change"),
        "pattern": specs.required(s.string, "regular expression"),
        "replacement": Setting(s.string, "", "what each match becomes ($1 and ${name} insert groups)"),
    }

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        entries = specs.validate_entries(config["fields"], self._ENTRY, f"{path}.fields")
        self.entries = []
        for i, entry in enumerate(entries):
            try:
                pattern = re.compile(entry["pattern"])
            except re.error as exc:
                raise ConfigError(f"{path}.fields.{i}.pattern", f"bad regular expression: {exc}") from None
            self.entries.append((entry["field"], pattern, _python_replacement(entry["replacement"])))

    def edit(self, event: Event, entry: Any) -> None:
        name, pattern, replacement = entry
        value = self._take(event, name)
        if value is MISSING:
            return
        if not isinstance(value, str):
            raise ProcessorError(f"field [{name}] is a {type(value).__name__}, not text")
        try:
            put(event, name, pattern.sub(replacement, value))
        except (re.error, IndexError) as exc:
            raise ProcessorError(f"replacement for [{name}]: {exc}") from None
