"""A minimal RESP2 codec for the Redis output: commands out, replies in (sans-IO, bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ProtocolError", "RedisReplyError", "encode_command", "ReplyParser"]

MAX_LINE = 64 * 1024
MAX_BULK = 64 * 1024 * 1024
MAX_ARRAY = 1024 * 1024
MAX_DEPTH = 16


class ProtocolError(Exception):
    """The server's bytes are not RESP, or exceed a limit."""


@dataclass(frozen=True, slots=True)
class RedisReplyError:
    """A `-ERR ...` reply: the command failed, the connection is fine."""

    message: str


def encode_command(*args: bytes | str | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Incomplete(Exception):
    pass


class ReplyParser:
    """Feed bytes; get complete replies (str, int, bytes, None, list, RedisReplyError) in order."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        replies = []
        pos = 0
        while pos < len(self._buf):
            try:
                reply, pos = self._parse(pos)
            except _Incomplete:
                break
            replies.append(reply)
        self._buf = self._buf[pos:]
        return replies

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buf.find(b"\r\n", pos, pos + MAX_LINE + 2)
        if end < 0:
            if len(self._buf) - pos > MAX_LINE:
                raise ProtocolError(f"reply line longer than {MAX_LINE} bytes")
            raise _Incomplete
        return self._buf[pos:end], end + 2

    def _int(self, text: bytes) -> int:
        try:
            return int(text)
        except ValueError:
            raise ProtocolError(f"expected an integer, got {text[:40]!r}") from None

    def _parse(self, pos: int, depth: int = 0) -> tuple[Any, int]:
        if pos >= len(self._buf):
            raise _Incomplete
        kind = self._buf[pos : pos + 1]
        line, pos = self._line(pos + 1)
        if kind == b"+":
            return line.decode("utf-8", "replace"), pos
        if kind == b"-":
            return RedisReplyError(line.decode("utf-8", "replace")), pos
        if kind == b":":
            return self._int(line), pos
        if kind == b"$":
            length = self._int(line)
            if length == -1:
                return None, pos
            if not 0 <= length <= MAX_BULK:
                raise ProtocolError(f"bulk string length {length} out of range")
            if len(self._buf) < pos + length + 2:
                raise _Incomplete
            if self._buf[pos + length : pos + length + 2] != b"\r\n":
                raise ProtocolError("bulk string not terminated by CRLF")
            return self._buf[pos : pos + length], pos + length + 2
        if kind == b"*":
            count = self._int(line)
            if count == -1:
                return None, pos
            if not 0 <= count <= MAX_ARRAY:
                raise ProtocolError(f"array length {count} out of range")
            if depth >= MAX_DEPTH:
                raise ProtocolError(f"arrays nested deeper than {MAX_DEPTH}")
            items = []
            for _ in range(count):
                item, pos = self._parse(pos, depth + 1)
                items.append(item)
            return items, pos
        raise ProtocolError(f"unknown reply type {kind!r}")
