"""`output.console`: one JSON document per event on stdout (`pretty: true` indents it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, BinaryIO, ClassVar

import orjson

from .. import settings as s
from ..settings import Setting, Spec
from .base import BatchResult, Output, OutputError

__all__ = ["ConsoleOutput", "event_lines"]

_COMPACT = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
_PRETTY = _COMPACT | orjson.OPT_INDENT_2


def _unencodable(reason: str) -> str:
    return f"cannot encode as JSON: {reason}"


def event_lines(output: Output, events: list[Any], pretty: bool = False,
                ) -> tuple[list[bytes | None], list[tuple[int, str]]]:
    """Each event as a JSON line (None where it cannot be encoded), and (index, reason) for those.

    Compact lines are the encoded bytes as they are; `pretty` decodes each event to indent it
    (counted in the output's `events_decoded`)."""
    dead: list[tuple[int, str]] = []
    lines: list[bytes | None] = []
    for event in output.encoded(events, dead, _unencodable):
        if event is None:
            lines.append(None)
        elif pretty:
            output.stats["events_decoded"] += 1
            lines.append(orjson.dumps(event.decoded(), option=_PRETTY))
        elif event.meta is None:
            lines.append(event.doc + b"\n")
        else:
            lines.append(event.document(orjson.OPT_NON_STR_KEYS) + b"\n")
    return lines, dead


class ConsoleOutput(Output):
    name = "console"
    accepts_encoded = True
    non_str_keys = True
    settings: ClassVar[Spec] = {
        "pretty": Setting(s.boolean, False, "indent each JSON document"),
    }

    def __init__(self, config: Mapping[str, Any], stream: BinaryIO | None = None) -> None:
        super().__init__(config)
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._pretty = bool(config.get("pretty", False))
        self.stats = {"bytes": 0, "errors": 0, "events_decoded": 0}

    def publish_batch(self, events: list[Any]) -> BatchResult:
        lines, dead = event_lines(self, events, self._pretty)
        data = b"".join(line for line in lines if line is not None)
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.stats["errors"] += 1
            raise OutputError(f"cannot write to stdout: {exc}") from exc
        self.stats["bytes"] += len(data)
        return BatchResult(dead=dead)
