"""decode_json_fields: JSON text in fields becomes objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import Setting
from . import specs
from .adding import expand_dotted
from .base import Event, Processor, ProcessorError
from .fields import MISSING, get, put

__all__ = ["DecodeJsonFields"]

_UNSET = None  # `target` not given: the decoded value replaces the text in its own field
MAX_JSON_BYTES = 10 * 1024 * 1024  # a larger text is not decoded (counted as an error)


class DecodeJsonFields(Processor):
    """Decodes each field's text. `max_depth` levels of JSON text inside the result are decoded too;
    `process_array` lets that go into lists. `target` unset: the field itself takes the result; `""`:
    the result's keys go to the event root (kept where the event has them unless `overwrite_keys`);
    else the result goes to `target`."""

    name = "decode_json_fields"
    spec = {
        "fields": specs.required(specs.field_names, "fields holding JSON text"),
        "process_array": specs.flag(False, "decode JSON text found in lists, too"),
        "max_depth": Setting(s.between(1, 64), 1, "levels of JSON text within JSON text to decode"),
        "target": Setting(s.string, _UNSET, "where the result goes: unset, the field itself; \"\", the event "
                          "root; else that field"),
        "overwrite_keys": specs.flag(False, "with target \"\": replace the event's own keys"),
        "add_error_key": specs.flag(False, "report text that is not JSON in error.message (else only count it)"),
        "expand_keys": specs.flag(False, "expand dotted keys of the result into objects"),
        "document_id": Setting(s.string, "", "key of the result moved to @metadata._id"),
    }
    fail_on_error = False

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.report_errors = config["add_error_key"]

    def _decode(self, value: Any, depth: int) -> Any:
        if isinstance(value, str) and depth > 0:
            text = value.strip()
            if text[:1] in ("{", "["):
                try:
                    value = json.loads(text)
                except (ValueError, RecursionError):
                    return value
                return self._decode(value, depth - 1)
            return value
        if isinstance(value, dict):
            return {k: self._decode(v, depth) for k, v in value.items()}
        if isinstance(value, list) and self.config["process_array"]:
            return [self._decode(v, depth) for v in value]
        return value

    def run(self, event: Event) -> Event | None:
        config = self.config
        errors = []
        for name in config["fields"]:
            text = get(event, name)
            if not isinstance(text, str):
                continue  # missing or not text: nothing to decode (libbeat likewise)
            if len(text) > MAX_JSON_BYTES:
                errors.append(f"field [{name}]: {len(text)} characters, more than {MAX_JSON_BYTES} decoded")
                continue
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as exc:
                errors.append(f"field [{name}] is not JSON: {exc}")
                continue
            value = self._decode(value, config["max_depth"] - 1)
            if isinstance(value, dict):
                if config["expand_keys"]:
                    value = expand_dotted(value)
                if config["document_id"]:
                    doc_id = value.pop(config["document_id"], MISSING)
                    if isinstance(doc_id, str):
                        put(event, "@metadata._id", doc_id)
            self._write(event, name, value)
        if errors:
            raise ProcessorError("; ".join(errors))
        return event

    def _write(self, event: Event, name: str, value: Any) -> None:
        target = self.config["target"]
        if target is _UNSET:
            put(event, name, value)
        elif target:
            put(event, target, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in ("@timestamp", "type", "@metadata"):
                    continue  # never replaced by decoded text
                if key in event and not self.config["overwrite_keys"]:
                    continue
                event[key] = item
        else:
            raise ProcessorError(f"field [{name}]: a JSON {type(value).__name__} cannot go to the event root")
