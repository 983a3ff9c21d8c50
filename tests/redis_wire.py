"""RESP2/RESP3 wire bytes built from meaning (a command with these arguments, a map of these pairs),
following the protocol specification, for the redis module's tests."""

from __future__ import annotations

CRLF = b"\r\n"


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def bulk(value: bytes | str) -> bytes:
    data = _b(value)
    return b"$%d\r\n" % len(data) + data + CRLF


def command(*args: bytes | str) -> bytes:
    """What a client library sends: an array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


def inline(line: str) -> bytes:
    return line.encode() + CRLF


def simple(text: str) -> bytes:
    return b"+" + text.encode() + CRLF


def error(text: str) -> bytes:
    return b"-" + text.encode() + CRLF


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


NULL_BULK = b"$-1\r\n"
NULL_ARRAY = b"*-1\r\n"
NULL = b"_\r\n"  # RESP3


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


def set_(*items: bytes) -> bytes:
    return b"~%d\r\n" % len(items) + b"".join(items)


def push(*items: bytes) -> bytes:
    return b">%d\r\n" % len(items) + b"".join(items)


def map_(*pairs: tuple[bytes, bytes]) -> bytes:
    return b"%%%d\r\n" % len(pairs) + b"".join(k + v for k, v in pairs)


def attribute(pairs: list[tuple[bytes, bytes]], value: bytes) -> bytes:
    return b"|%d\r\n" % len(pairs) + b"".join(k + v for k, v in pairs) + value


def double(text: str) -> bytes:
    return b"," + text.encode() + CRLF


def bignum(text: str) -> bytes:
    return b"(" + text.encode() + CRLF


def boolean(value: bool) -> bytes:
    return b"#t\r\n" if value else b"#f\r\n"


def verbatim(fmt: str, text: str) -> bytes:
    data = fmt.encode() + b":" + text.encode()
    return b"=%d\r\n" % len(data) + data + CRLF


def bulk_error(text: str) -> bytes:
    data = text.encode()
    return b"!%d\r\n" % len(data) + data + CRLF


def streamed_string(*chunks: bytes) -> bytes:
    return b"$?\r\n" + b"".join(b";%d\r\n" % len(c) + c + CRLF for c in chunks) + b";0\r\n"


def streamed_array(*items: bytes) -> bytes:
    return b"*?\r\n" + b"".join(items) + b".\r\n"
