"""`output.console`: one JSON document per event on stdout (`pretty: true` indents it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, BinaryIO, ClassVar

import orjson

from .. import settings as s
from ..settings import Setting, Spec
from .base import BatchResult, Output, OutputError

__all__ = ["ConsoleOutput", "encode_events"]

_COMPACT = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
_PRETTY = _COMPACT | orjson.OPT_INDENT_2


def encode_events(events: list[dict[str, Any]], pretty: bool = False) -> tuple[list[bytes | None], list[tuple[int, str]]]:
    """Each event as a JSON line (None where it cannot be encoded), and (index, reason) for those."""
    option = _PRETTY if pretty else _COMPACT
    lines: list[bytes | None] = []
    dead: list[tuple[int, str]] = []
    for index, event in enumerate(events):
        try:
            lines.append(orjson.dumps(event, option=option))
        except TypeError as exc:  # orjson.JSONEncodeError: a value JSON cannot express
            lines.append(None)
            dead.append((index, f"cannot encode as JSON: {exc}"))
    return lines, dead


class ConsoleOutput(Output):
    name = "console"
    settings: ClassVar[Spec] = {
        "pretty": Setting(s.boolean, False, "indent each JSON document"),
    }

    def __init__(self, config: Mapping[str, Any], stream: BinaryIO | None = None) -> None:
        super().__init__(config)
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._pretty = bool(config.get("pretty", False))
        self.stats = {"bytes": 0, "errors": 0}

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        lines, dead = encode_events(events, self._pretty)
        data = b"".join(line for line in lines if line is not None)
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.stats["errors"] += 1
            raise OutputError(f"cannot write to stdout: {exc}") from exc
        self.stats["bytes"] += len(data)
        return BatchResult(dead=dead)
