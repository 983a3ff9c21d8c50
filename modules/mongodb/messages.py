"""The message the mongodb parser emits for each wire message: frozen, slotted, sizes and timestamps."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from packetshipper.records import record

__all__ = ["MongoMessage"]


@record
class MongoMessage:
    ts: float  # first byte seen
    size: int  # messageLength: the whole message, header included
    request_id: int
    response_to: int
    opcode: int  # the opcode inside OP_COMPRESSED when it was decompressed
    is_response: bool
    expects_reply: bool = False
    method: str = ""
    resource: str = ""
    params: dict[str, Any] | None = None  # the query or command document (command key removed)
    fields: tuple[tuple[str, Any], ...] = ()  # mongodb.* values: fullCollectionName, numberToSkip, ...
    documents: tuple[Any, ...] = ()  # decoded documents kept for `response` (at most max_docs)
    num_documents: int = 0
    error: str | None = None  # $err, errmsg of ok: 0, writeErrors
    more_to_come: bool = False  # OP_MSG moreToCome: no reply follows (request), more replies follow (reply)
    notes: tuple[str, ...] = field(default=())
