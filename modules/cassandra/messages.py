"""The message the cassandra parser emits for each frame (v5: each envelope)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from packetshipper.records import record

__all__ = ["Frame"]


@record
class Frame:
    ts: float  # first byte of the frame seen
    version: int  # 1..5
    is_response: bool  # the direction bit of the version byte
    flags: int
    stream: int  # signed: server pushes (EVENT) use -1
    opcode: int
    length: int  # the header's body length (compressed size when compressed)
    size: int  # wire bytes: header plus body
    fields: dict[str, Any] = field(default_factory=dict)  # decoded body; keys starting with _ are internal
    decoded: bool = True  # False: reported from its header only (oversized, not decompressed, damaged)
    notes: tuple[str, ...] = ()
