"""Detection by content: does a connection start with an HTTP/1.x request or status line?"""

from __future__ import annotations

import re

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_METHODS = frozenset(b"GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE "
                     b"LOCK UNLOCK REPORT SEARCH PURGE".split())
_REQUEST_LINE = re.compile(rb"([A-Z]{3,10}) [\x21-\x7e]+ HTTP/1\.[01]\r?\n")
# What a request line can start with before its end arrives (the target may be long).
_REQUEST_START = re.compile(rb"[A-Z]{1,10}(?: [\x21-\x7e]*(?: (?:H(?:T(?:T(?:P(?:/(?:1(?:\.[01]?\r?)?)?)?)?)?)?)?)?)?")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5][0-9][0-9][ \r\n]")
_STATUS_START = b"HTTP/1."


def probe(data: bytes, direction: Direction) -> Verdict:
    if direction == Direction.RESPONSE:
        if len(data) < 13:
            head = data[:7]
            return Verdict.NEED_MORE if _STATUS_START.startswith(head) else Verdict.NO
        return Verdict.YES if _STATUS_LINE.match(data) else Verdict.NO
    if not data:
        return Verdict.NEED_MORE
    end = data.find(b"\n")
    if end < 0:
        match = _REQUEST_START.fullmatch(data)
        if match is None:
            return Verdict.NO
        method = data.split(b" ", 1)[0]
        known = any(m.startswith(method) for m in _METHODS) if b" " not in data else method in _METHODS
        return Verdict.NEED_MORE if known else Verdict.NO
    match = _REQUEST_LINE.match(data[: end + 1])
    return Verdict.YES if match is not None and match.group(1) in _METHODS else Verdict.NO
