"""Builds HTTP/1.x wire bytes from what a message means, following RFC 9112, for the http tests.

Each builder returns the exact bytes a peer would send, so a test states its expectations (sizes,
header values, body lengths) from the same meaning rather than from the parser's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packetshipper.protocol import StreamParser

Header = tuple[str, str]


def request(method: str = "GET", target: str = "/", *, version: str = "1.1", headers: Sequence[Header] = (),
            body: bytes = b"", chunks: Sequence[bytes] | None = None, trailers: Sequence[Header] = (),
            content_length: bool = True) -> bytes:
    """A request. With `chunks` the body is sent chunked (Transfer-Encoding added) with `trailers`;
    otherwise a non-empty body gets a Content-Length unless `content_length` is False."""
    start = f"{method} {target} HTTP/{version}"
    return _message(start, headers, body, chunks, trailers, content_length)


def response(status: int = 200, phrase: str = "OK", *, version: str = "1.1", headers: Sequence[Header] = (),
             body: bytes = b"", chunks: Sequence[bytes] | None = None, trailers: Sequence[Header] = (),
             content_length: bool = True) -> bytes:
    start = f"HTTP/{version} {status} {phrase}" if phrase else f"HTTP/{version} {status}"
    return _message(start, headers, body, chunks, trailers, content_length)


def head_size(message: bytes) -> int:
    """Bytes up to and including the empty line that ends the header section."""
    return message.index(b"\r\n\r\n") + 4


def chunked(chunks: Sequence[bytes], trailers: Sequence[Header] = ()) -> bytes:
    """A chunked body: hex size, CRLF, data, CRLF per chunk; then the last chunk, trailers, CRLF."""
    out = bytearray()
    for chunk in chunks:
        if chunk:
            out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    for name, value in trailers:
        out += f"{name}: {value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def _message(start: str, headers: Sequence[Header], body: bytes, chunks: Sequence[bytes] | None,
             trailers: Sequence[Header], content_length: bool) -> bytes:
    fields = list(headers)
    names = {name.lower() for name, _ in fields}
    if chunks is not None:
        if "transfer-encoding" not in names:
            fields.append(("Transfer-Encoding", "chunked"))
        payload = chunked(chunks, trailers)
    else:
        if body and content_length and "content-length" not in names:
            fields.append(("Content-Length", str(len(body))))
        payload = body
    head = start + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
    return head.encode("utf-8") + payload


# --- how a peer's bytes reach a parser --------------------------------------------------------------
# A request stream and a response stream each end with the start of a message that never completes.
TRAILING_REQUEST_BYTES = b"GET /never-finished HTTP/1.1\r\nHost: x"
TRAILING_RESPONSE_BYTES = b"HTTP/1.1 200 OK\r\nContent-Len"


def feed_whole(parser: StreamParser, data: bytes, ts: float = 1.0) -> list[Any]:
    return parser.receive_data(data, ts)


def feed_bytewise(parser: StreamParser, data: bytes, ts: float = 1.0) -> list[Any]:
    out: list[Any] = []
    for i in range(len(data)):
        out += parser.receive_data(data[i : i + 1], ts)
    return out


def feed_split(parser: StreamParser, data: bytes, cuts: Sequence[int], ts: float = 1.0) -> list[Any]:
    """Feed `data` in pieces cut at the given offsets."""
    out: list[Any] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        if cut > start:
            out += parser.receive_data(data[start:cut], ts)
            start = cut
    return out
