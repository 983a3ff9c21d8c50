"""What a worker process and the main process say to each other over their pipes.

Worker -> main, one message each: a kind byte, then the body. `E`: a batch of events, encoded once as
one JSON array (orjson); `M`: the worker's metrics snapshot (JSON); `L`: a log record (JSON: level,
logger name, message); `D`: the worker ended its run cleanly (every event before it was sent).
Main -> worker (files only): a batch is two messages, the packed records then the buffer; the end of
the file is one message of `_END` and the time of the file's last packet, so every worker flushes its
flows at the same instant a single process would.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

__all__ = ["EVENTS", "METRICS", "LOG", "DONE", "encode", "decode", "end_of_file", "read_end"]

EVENTS, METRICS, LOG, DONE = b"E", b"M", b"L", b"D"
_END = b"\x00END"
_TS = struct.Struct("=d")
_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(kind: bytes, body: Any) -> bytes:
    return kind + orjson.dumps(body, option=_OPTIONS)


def decode(message: bytes) -> tuple[bytes, Any]:
    return message[:1], orjson.loads(memoryview(message)[1:]) if len(message) > 1 else None


def end_of_file(last_ts: float | None) -> bytes:
    return _END + (_TS.pack(last_ts) if last_ts is not None else b"")


def read_end(message: bytes) -> tuple[bool, float | None]:
    """(True, last packet time or None) if `message` ends the file; (False, None) for a batch's records
    (records are 16 bytes each, never 4 or 12)."""
    if not message.startswith(_END) or len(message) not in (len(_END), len(_END) + _TS.size):
        return False, None
    return True, _TS.unpack_from(message, len(_END))[0] if len(message) > len(_END) else None
