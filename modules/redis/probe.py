"""Detection by content: a Redis client's RESP command array or upper-case inline command, or a reply."""

from __future__ import annotations

import re

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

# `*<count>\r\n$<length>\r\n`: every command redis-cli and the client libraries send.
_ARRAY = re.compile(rb"\*[1-9][0-9]{0,6}\r\n\$[0-9]{1,9}\r\n")
_ARRAY_START = re.compile(rb"\*(?:[1-9][0-9]{0,6}(?:\r(?:\n(?:\$[0-9]{0,9}\r?)?)?)?)?")
# Inline commands (telnet style), upper case only: memcache's text commands are the same words in lower case.
_INLINE = re.compile(rb"([A-Z]{3,16})(?: [\x20-\x7e]*)?\r\n")
_INLINE_COMMANDS = frozenset(b"PING INFO AUTH ECHO SELECT GET SET DEL EXISTS KEYS SCAN TTL EXPIRE INCR DECR MGET MSET "
                             b"LPUSH RPUSH LPOP RPOP LRANGE HGET HSET HGETALL SADD SMEMBERS ZADD ZRANGE DBSIZE "
                             b"FLUSHDB FLUSHALL CONFIG CLIENT COMMAND HELLO MONITOR SUBSCRIBE PUBLISH QUIT".split())
_REPLY = re.compile(rb"(?:\+(?:OK|PONG)|-(?:ERR|WRONGTYPE|NOAUTH|NOPERM|MOVED|ASK|LOADING)[ \r]"
                    rb"|[:$*]-?[0-9]{1,19}\r\n)")


def probe(data: bytes, direction: Direction) -> Verdict:
    if direction == Direction.RESPONSE:
        if len(data) < 5:
            return Verdict.NEED_MORE if data[:1] in (b"+", b"-", b":", b"$", b"*", b"") else Verdict.NO
        return Verdict.YES if _REPLY.match(data) else Verdict.NO
    if data[:1] == b"*":
        if _ARRAY.match(data):
            return Verdict.YES
        return Verdict.NEED_MORE if _ARRAY_START.fullmatch(data[:24]) else Verdict.NO
    end = data.find(b"\r\n")
    if end < 0:
        word = data.split(b" ", 1)[0]
        complete = b" " in data or word.endswith(b"\r")  # the command word has ended
        word = word.removesuffix(b"\r")
        plausible = len(data) <= 1024 and word.isupper() and word.isalpha() and (
            word in _INLINE_COMMANDS if complete else any(c.startswith(word) for c in _INLINE_COMMANDS))
        return Verdict.NEED_MORE if plausible or not data else Verdict.NO
    line = _INLINE.fullmatch(data[: end + 2])
    if line is None or line.group(1) not in _INLINE_COMMANDS or re.search(rb" HTTP/[0-9.]+\r\n$", data[: end + 2]):
        return Verdict.NO
    return Verdict.YES
