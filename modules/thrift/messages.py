"""The message the thrift parser emits for each RPC message."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["ThriftMessage", "CALL", "REPLY", "EXCEPTION", "ONEWAY"]

CALL, REPLY, EXCEPTION, ONEWAY = 1, 2, 3, 4


@record
class ThriftMessage:
    ts: float
    size: int  # wire bytes, frame length prefix included
    method: str
    kind: int  # CALL, REPLY, EXCEPTION, ONEWAY
    seqid: int
    fields: tuple[tuple[int, str], ...]  # (field id, rendered value) of the argument or result struct
    protocol: str  # "binary" or "compact"

    @property
    def is_request(self) -> bool:
        return self.kind in (CALL, ONEWAY)
