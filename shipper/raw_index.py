"""Beats' per-input `index` (each `packetshipper.protocols` entry's, and `flows.index`): the event's
`@metadata.raw_index`, which the Elasticsearch output uses as the index name as it is, and the Logstash
output passes on in `@metadata`.

As in Beats, it is set before the protocol's (or flows') processors run, so they can read or change it,
and it may be a format string (`netflows-%{[network.transport]}-%{+yyyy.MM.dd}`). An event the format
cannot be rendered for keeps no raw_index (it goes where the output's own `index` says) and is
counted; Beats would drop it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .outputs.index_format import FormatString, SelectorError
from .settings import ConfigError

__all__ = ["RawIndex", "RAW_INDEX_KEY"]

RAW_INDEX_KEY = "raw_index"  # under `@metadata`

Emit = Callable[[dict[str, Any]], None]


class RawIndex:
    """Stamps `@metadata.raw_index` on every event one source emits; `failed` counts unrenderable ones."""

    __slots__ = ("name", "_format", "_constant", "stamped", "failed")

    def __init__(self, text: str, path: str) -> None:
        try:
            self._format = FormatString(text)
        except ConfigError as exc:
            raise ConfigError(path, exc.reason) from None
        self.name = path
        self._constant = text if self._format.is_constant else None
        self.stamped = 0
        self.failed = 0

    def stamp(self, event: dict[str, Any]) -> None:
        name = self._constant
        if name is None:
            try:
                name = self._format.render(event)
            except SelectorError:
                self.failed += 1
                return
        meta = event.get("@metadata")
        # A new dict each time: processors and the publisher may change an event's @metadata.
        event["@metadata"] = {**meta, RAW_INDEX_KEY: name} if isinstance(meta, dict) else {RAW_INDEX_KEY: name}
        self.stamped += 1

    def wrap(self, emit: Emit) -> Emit:
        stamp = self.stamp

        def stamped(event: dict[str, Any]) -> None:
            stamp(event)
            emit(event)

        return stamped

    def snapshot(self) -> dict[str, int]:
        return {"stamped": self.stamped, "format_failed": self.failed}
