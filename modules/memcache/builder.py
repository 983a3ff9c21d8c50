"""The message being read: a mutable builder the parsers fill, frozen into an `McMessage` when done."""

from __future__ import annotations

from typing import Any

from packetshipper.records import record

from .messages import McMessage

__all__ = ["Builder", "ValueLimits"]


@record
class ValueLimits:
    """Packetbeat's `maxvalues` (0: none kept, -1: all) and `maxbytespervalue` (0: whole value), and
    our bound on what one message may hold in keys and stats (`max_message_size`)."""

    max_values: int = 0
    max_bytes_per_value: int = 0
    max_message_size: int = 10 * 1024 * 1024
    max_line_length: int = 64 * 1024

    def keeps_value(self, count: int) -> bool:
        return self.max_values < 0 or count < self.max_values

    def value_room(self) -> int:
        return self.max_bytes_per_value if self.max_bytes_per_value > 0 else 1 << 62


class Builder:
    """Fields of one message; `value_*` follow a data block as it streams in, kept within the limits."""

    __slots__ = ("fields", "keys", "values", "stats", "notes", "count_values", "data_bytes", "kept",
                 "_value", "_value_room", "truncated")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.keys: list[bytes] = []
        self.values: list[bytes] = []
        self.stats: list[tuple[bytes, bytes]] = []
        self.notes: list[str] = []
        self.count_values = 0
        self.data_bytes = 0
        self.kept = 0
        self._value: bytearray | None = None
        self._value_room = 0
        self.truncated = False

    def add_key(self, key: bytes, limits: ValueLimits) -> None:
        if self.kept + len(key) > limits.max_message_size:
            self.truncated = True
            return
        self.kept += len(key)
        self.keys.append(key)

    def add_stat(self, name: bytes, value: bytes, limits: ValueLimits) -> None:
        if self.kept + len(name) + len(value) > limits.max_message_size:
            self.truncated = True
            return
        self.kept += len(name) + len(value)
        self.stats.append((name, value))

    def start_value(self, length: int, limits: ValueLimits) -> None:
        self.count_values += 1
        self.data_bytes += length
        if limits.keeps_value(len(self.values)):
            self._value = bytearray()
            self._value_room = min(limits.value_room(), max(0, limits.max_message_size - self.kept))
        else:
            self._value = None

    def value_data(self, data: bytes | bytearray | memoryview) -> None:
        value = self._value
        if value is not None and len(value) < self._value_room:
            value += data[:self._value_room - len(value)]

    def end_value(self) -> None:
        if self._value is not None:
            self.kept += len(self._value)
            self.values.append(bytes(self._value))
            self._value = None

    def build(self, ts: float, size: int, *, is_request: bool, binary: bool, command: str, kind: str,
              with_data: bool) -> McMessage:
        fields = self.fields
        if with_data:
            fields["value_bytes"] = self.data_bytes
            fields["count_values"] = self.count_values
        notes = list(self.notes)
        if self.truncated:
            notes.append("more keys or stats than max_message_size: the rest were counted, not kept")
        return McMessage(ts=ts, size=size, is_request=is_request, binary=binary, command=command, type=kind,
                         keys=tuple(self.keys), values=tuple(self.values), stats=tuple(self.stats),
                         notes=tuple(notes), kept=self.kept + 64, **fields)
