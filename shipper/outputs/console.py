"""`output.console`: one JSON document per event on stdout (`pretty: true` indents it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, BinaryIO, ClassVar

import orjson

from .. import hotpath
from .. import settings as s
from ..settings import Setting, Spec
from .base import BatchResult, Output, OutputError

__all__ = ["ConsoleOutput", "event_documents", "ndjson"]

_PRETTY = orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2


def _unencodable(reason: str) -> str:
    return f"cannot encode as JSON: {reason}"


def event_documents(output: Output, events: list[Any], pretty: bool = False,
                    ) -> tuple[list[bytes | None], list[tuple[int, str]]]:
    """Each event as a JSON document, without the newline (None where it cannot be encoded), and
    (index, reason) for those.

    Compact documents are the encoded bytes as they are; `pretty` decodes each event to indent it
    (counted in the output's `events_decoded`)."""
    dead: list[tuple[int, str]] = []
    encoded = output.encoded(events, dead, _unencodable)
    if not pretty:
        option = orjson.OPT_NON_STR_KEYS
        if hotpath.enabled:
            return hotpath.compiled.event_documents(encoded, option), dead  # type: ignore[union-attr]
        return [None if e is None else e.doc if e.meta is None else e.document(option) for e in encoded], dead
    docs: list[bytes | None] = []
    for event in encoded:
        if event is None:
            docs.append(None)
        else:
            output.stats["events_decoded"] += 1
            docs.append(orjson.dumps(event.decoded(), option=_PRETTY))
    return docs, dead


def ndjson(docs: list[bytes]) -> bytes:
    """Documents as newline-terminated lines, in one copy (the empty last item gives the last newline:
    appending it to the joined bytes would copy them all again)."""
    return b"\n".join([*docs, b""]) if docs else b""


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
        docs, dead = event_documents(self, events, self._pretty)
        data = ndjson([doc for doc in docs if doc is not None])
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.stats["errors"] += 1
            raise OutputError(f"cannot write to stdout: {exc}") from exc
        self.stats["bytes"] += len(data)
        return BatchResult(dead=dead)
