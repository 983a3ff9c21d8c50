"""The dead-letter file: events the pipeline gave up on, one ndjson line each, with the reason."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import orjson

from ..event import iso_timestamp
from ..outputs.encoded import EncodedEvent, with_metadata

__all__ = ["DeadLetterFile"]

log = logging.getLogger(__name__)


class DeadLetterFile:
    """Appends `{"event": ..., "reason": ..., "@timestamp": ...}` lines to `path`, up to `max_size` bytes.

    What cannot be written (disabled, over the limit, I/O error) is counted under `dropped`, by reason.
    """

    def __init__(self, path: str | None, max_size: int, permissions: int = 0o600) -> None:
        self.path = path
        self.max_size = max_size
        self.permissions = permissions
        self._fd = -1
        self._size = 0
        self._lock = threading.Lock()
        self.written = 0
        self.bytes = 0
        self.dropped = {"disabled": 0, "over_limit": 0, "io_error": 0}

    def write(self, event: dict[str, Any] | EncodedEvent, reason: str, now: float | None = None) -> bool:
        if self.path is None:
            self.dropped["disabled"] += 1
            return False
        stamp = iso_timestamp(time.time() if now is None else now)
        if isinstance(event, EncodedEvent):  # the same line, without encoding the event again
            tail = orjson.dumps({"reason": reason, "@timestamp": stamp}, option=orjson.OPT_APPEND_NEWLINE)
            doc = event.doc
            if event.meta is not None:
                doc = with_metadata(doc, orjson.dumps(event.meta, default=repr, option=orjson.OPT_NON_STR_KEYS))
            line = b'{"event":' + doc + b"," + tail[1:]
        else:
            record = {"event": event, "reason": reason, "@timestamp": stamp}
            line = orjson.dumps(record, default=repr, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._size + len(line) > self.max_size:
                self.dropped["over_limit"] += 1
                return False
            try:
                if self._fd < 0:
                    self._open(self.path)
                os.write(self._fd, line)
            except OSError as exc:
                self.dropped["io_error"] += 1
                log.error("dead-letter file %s: %s", self.path, exc)
                return False
            self._size += len(line)
            self.written += 1
            self.bytes += len(line)
            return True

    def _open(self, path: str) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.permissions)
        self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def stats(self) -> dict[str, Any]:
        return {"written": self.written, "bytes": self.bytes, "dropped": dict(self.dropped)}
