"""What a worker process and the main process say to each other over their pipes.

Worker -> main, one message each: a kind byte, then the body. `E`: a batch of events, each encoded once
by the worker (`events_message`: no JSON to decode in the main process, see below); `U`: an event that
could not be encoded (JSON: the reason and the event with what JSON cannot express as its repr), for the
main process to count and dead-letter; `M`: the worker's metrics snapshot (JSON); `L`: a log record
(JSON: level, logger name, message); `D`: the worker ended its run cleanly (every event before it was sent);
`T`: the worker has copied a slot of the shared ring out, which the reader may now write again.
Main -> worker (files only): a batch is one message of `_SLOT` and where it lies in the shared ring
(`slot_message`: slot, records' length, buffer's length; see ring.py), or, too big for a slot, two
messages, the packed records then the buffer; the end of the file is one message of `_END` and the time
of the file's last packet, so every worker flushes its flows at the same instant a single process would.
Neither a slot's 28 bytes nor the end's 4 or 12 can be mistaken for records (16 bytes each).

An `E` body: the number of events and the length of the extras (two native 32-bit integers), each
event's document length (32 bits each), the extras, then the documents one after another. The extras are
empty when no event has `@metadata` and the output routes by no field (the file output's usual case);
otherwise one JSON array `[metas, fields]`, one entry per event (null: none).
"""

from __future__ import annotations

import os
import struct
from array import array
from itertools import accumulate, islice
from multiprocessing.connection import Connection
from typing import Any

import orjson

from .. import hotpath

__all__ = ["EVENTS", "UNENCODABLE", "METRICS", "LOG", "DONE", "TAKEN", "encode", "decode", "events_message",
           "read_events", "unencodable_message", "end_of_file", "read_end", "slot_message", "read_slot", "receive"]

EVENTS, UNENCODABLE, METRICS, LOG, DONE, TAKEN = b"E", b"U", b"M", b"L", b"D", b"T"
_END = b"\x00END"
_SLOT = b"\x00SLT"
_SLOT_PLACE = struct.Struct("=QQQ")  # slot, records' length, buffer's length
_TS = struct.Struct("=d")
_FRAME = struct.Struct("!i")  # multiprocessing's framing: the length, or -1 and then the length as !Q
_LONG_FRAME = struct.Struct("!Q")
_HEAD = struct.Struct("=II")  # events, extras' length
_LENGTH = "I"
_LENGTH_SIZE = array(_LENGTH).itemsize
_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(kind: bytes, body: Any) -> bytes:
    return kind + orjson.dumps(body, option=_OPTIONS)


def decode(message: bytes) -> tuple[bytes, Any]:
    """(kind, body) of a message other than `E`; ValueError if the body is not JSON."""
    return message[:1], orjson.loads(memoryview(message)[1:]) if len(message) > 1 else None


def events_message(docs: list[bytes], metas: list[Any] | None, fields: list[Any] | None) -> bytes:
    """An `E` message of encoded event documents; `metas` and `fields` (one entry each per event, or None
    for none at all) must be JSON-expressible."""
    extras = b"" if metas is None and fields is None else orjson.dumps([metas, fields], option=_OPTIONS)
    lengths = array(_LENGTH, map(len, docs)).tobytes()
    return b"".join((EVENTS, _HEAD.pack(len(docs), len(extras)), lengths, extras, *docs))


def read_events(message: bytes) -> tuple[list[bytes], list[Any] | None, list[Any] | None]:
    """What `events_message` made: (docs, metas, fields); ValueError if `message` is not that."""
    view = memoryview(message)
    if len(view) < 1 + _HEAD.size:
        raise ValueError("an event batch too short for its header")
    count, extras_len = _HEAD.unpack_from(view, 1)
    start = 1 + _HEAD.size
    lengths = array(_LENGTH)
    lengths.frombytes(view[start:start + count * _LENGTH_SIZE])
    start += len(lengths) * _LENGTH_SIZE
    if len(lengths) != count or start + extras_len + sum(lengths) != len(view):
        raise ValueError("the parts of an event batch do not add up")
    metas = fields = None
    if extras_len:
        extras = orjson.loads(view[start:start + extras_len])
        start += extras_len
        if not isinstance(extras, list) or len(extras) != 2:
            raise ValueError("the extras of an event batch are not [metas, fields]")
        metas, fields = extras
        for part in (metas, fields):
            if part is not None and (not isinstance(part, list) or len(part) != count):
                raise ValueError("the extras of an event batch do not match its events")
    if hotpath.enabled:
        return hotpath.compiled.split_documents(message, start, lengths), metas, fields  # type: ignore[union-attr]
    ends = list(accumulate(lengths, initial=start))
    return [message[a:b] for a, b in zip(ends, islice(ends, 1, None), strict=False)], metas, fields


def unencodable_message(reason: str, event: dict[str, Any]) -> bytes:
    """A `U` message: `[reason, event]`, what JSON cannot express in the event as its repr (as the
    dead-letter file writes it)."""
    try:
        return UNENCODABLE + orjson.dumps([reason, event], default=repr, option=_OPTIONS)
    except TypeError:  # beyond repr too (nesting too deep): the event as one string
        return UNENCODABLE + orjson.dumps([reason, repr(event)])


def end_of_file(last_ts: float | None) -> bytes:
    return _END + (_TS.pack(last_ts) if last_ts is not None else b"")


def read_end(message: bytes) -> tuple[bool, float | None]:
    """(True, last packet time or None) if `message` ends the file; (False, None) for a batch's records
    (records are 16 bytes each, never 4 or 12)."""
    if not message.startswith(_END) or len(message) not in (len(_END), len(_END) + _TS.size):
        return False, None
    return True, _TS.unpack_from(message, len(_END))[0] if len(message) > len(_END) else None


def slot_message(slot: int, meta_length: int, buf_length: int) -> bytes:
    return _SLOT + _SLOT_PLACE.pack(slot, meta_length, buf_length)


def read_slot(message: bytes) -> tuple[int, int, int] | None:
    """(slot, records' length, buffer's length) of a `slot_message`; None for a batch's records."""
    if len(message) != len(_SLOT) + _SLOT_PLACE.size or not message.startswith(_SLOT):
        return None
    slot, meta_length, buf_length = _SLOT_PLACE.unpack_from(message, len(_SLOT))
    return slot, meta_length, buf_length


def receive(conn: Connection) -> bytes:
    """`conn.recv_bytes()`, read straight into the message's buffer: multiprocessing's own gathers the
    chunks in a BytesIO and copies them out, which for the workers' event batches (about as many bytes
    as the capture) cost the main process more than the read. EOFError when the sender has closed."""
    fd = conn.fileno()
    (size,) = _FRAME.unpack(_read_exactly(fd, _FRAME.size))
    if size == -1:
        (size,) = _LONG_FRAME.unpack(_read_exactly(fd, _LONG_FRAME.size))
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    first = os.read(fd, size)
    if len(first) == size:
        return first
    if not first and size:
        raise EOFError
    buf = bytearray(size)
    buf[:len(first)] = first
    view, got = memoryview(buf), len(first)
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            raise EOFError
        got += n
    return bytes(buf)
