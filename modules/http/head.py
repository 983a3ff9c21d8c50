"""Parses an HTTP/1.x head (start line + header fields, RFC 9112 sections 3, 4 and 5) from one block."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from packetshipper import hotpath
from packetshipper.protocol import ProtocolError

from .cursor import CRLF, LineCursor
from .messages import Headers

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^\x00-\x20\x7f]+) HTTP/(\d)\.(\d)")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_FIELD_NAME = re.compile(_TOKEN)
# The common shape of a whole field section, decoded: only `name:value` lines without CR or LF inside.
# Sections of any other shape (obs-fold, bare CR or LF, errors) take the line-by-line path.
_TOKEN_TEXT = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SIMPLE_FIELDS = re.compile(r"(?:" + _TOKEN_TEXT + r":[^\r\n]*\r\n)*\r\n")
_DIGITS = re.compile(rb"\d{1,18}")
_OWS = b" \t"
_OWS_TEXT = " \t"
# What a start line may begin with: a cheap early check, so garbage is rejected before a whole block arrives.
START_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# The start lines above, matched in the decoded head (ASCII digits only): a head is decoded once. Those they
# refuse go to the bytes patterns, which say what is wrong.
_REQUEST_TEXT = re.compile(r"(" + _TOKEN_TEXT + r") ([^\x00-\x20\x7f]+) HTTP/([0-9])\.([0-9])")
_STATUS_TEXT = re.compile(r"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_NO_TOKENS: frozenset[str] = frozenset()
# The compiled twin of parse_head's common shape (all-ASCII, simple field lines): the same Head, or None for
# any other head.
_compiled_head: Any = getattr(hotpath.compiled, "http_head", None)


class Head(NamedTuple):
    """What the start line and header fields say; framing facts pulled out for the body reader.

    The parser's own reading of a head, never emitted (the messages are frozen dataclasses): a named
    tuple, as two are built per transaction and a tuple is built four times faster.
    """

    is_request: bool
    method: str
    target: str
    status_code: int
    status_phrase: str
    version: str
    headers: Headers
    content_length: int | None
    chunked: bool  # Transfer-Encoding ends in "chunked"
    has_transfer_encoding: bool
    connection: frozenset[str]  # lower-cased Connection tokens

    @property
    def keep_alive_by_default(self) -> bool:
        return self.version != "1.0"


StartLine = tuple[bool, str, str, int, str, str]


def parse_start_line(start: bytes) -> StartLine:
    """(is_request, method, target, status_code, status_phrase, version) of a start line without CRLF."""
    if start.startswith(b"HTTP/"):
        match = _STATUS_LINE.fullmatch(start)
        if match is None:
            raise ProtocolError(f"malformed status line {start[:80]!r}")
        major, minor, code, phrase = match.groups()
        request = (False, "", "", int(code), (phrase or b"").decode("utf-8", "replace"))
    else:
        match = _REQUEST_LINE.fullmatch(start)
        if match is None:
            raise ProtocolError(f"malformed request line {start[:80]!r}")
        raw_method, raw_target, major, minor = match.groups()
        request = (True, raw_method.decode("ascii"), raw_target.decode("utf-8", "replace"), 0, "")
    if major != b"1":
        raise ProtocolError(f"HTTP/{major.decode()}.{minor.decode()} is not HTTP/1.x")
    return (*request, f"1.{minor.decode()}")


def parse_head(block: bytes, start: StartLine | None = None) -> Head:
    """`block` runs from the start line through the empty line that ends the header section.

    `start` is `parse_start_line` of the block's first line when the caller already has it.
    """
    if start is None and _compiled_head is not None and hotpath.enabled and type(block) is bytes:
        head: Head | None = _compiled_head(block, Head, _NO_TOKENS, _framing)
        if head is not None:
            return head
    # UTF-8 decoding with replacement resynchronizes at every ASCII byte, so decoding the block at once
    # gives each piece between ASCII delimiters exactly what decoding it alone would.
    text = block.decode("utf-8", "replace")
    eol = text.find("\r\n")
    if eol < 0:
        raise ProtocolError("header line without CRLF")
    if start is None:
        start = _start_line_text(text, eol) or parse_start_line(block[: block.find(CRLF)])
    is_request, method, target, status_code, status_phrase, version = start
    if _SIMPLE_FIELDS.fullmatch(text, eol + 2) is not None:
        # Each line is `name:value`, the block ends with the empty line: split, faster than a findall.
        fields: list[tuple[str, str]] = []
        if eol + 4 < len(text):
            for line in text[eol + 2 : -4].split("\r\n"):
                name, _, value = line.partition(":")
                fields.append((name.lower(), value.strip(_OWS_TEXT)))
        headers = tuple(fields)
    else:
        headers = _parse_fields(LineCursor(block, block.find(CRLF) + 2))
    return _framing(is_request, method, target, status_code, status_phrase, version, headers)


def _start_line_text(text: str, eol: int) -> StartLine | None:
    """`parse_start_line` of the decoded head's first line, or None for one it would refuse."""
    if text.startswith("HTTP/"):
        match = _STATUS_TEXT.fullmatch(text, 0, eol)
        if match is None or match[1] != "1":
            return None
        return False, "", "", int(match[3]), match[4] or "", "1." + match[2]
    match = _REQUEST_TEXT.fullmatch(text, 0, eol)
    if match is None or match[3] != "1":
        return None
    return True, match[1], match[2], 0, "", "1." + match[4]


def parse_trailers(block: bytes) -> Headers:
    """Trailer fields after the last chunk: field lines up to and including the empty line."""
    return _parse_fields(LineCursor(block))


def _parse_fields(cursor: LineCursor) -> Headers:
    fields: list[tuple[str, str]] = []
    while True:
        line = cursor.line()
        if not line:
            return tuple(fields)
        if line[0] in _OWS:
            # obs-fold (RFC 9112 5.2): a continuation of the previous field value.
            if not fields:
                raise ProtocolError("header continuation before any header")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {_decode_value(line)}".strip())
            continue
        colon = line.find(b":")
        if colon <= 0 or _FIELD_NAME.fullmatch(line, 0, colon) is None:
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        fields.append((line[:colon].decode("ascii").lower(), _decode_value(line[colon + 1 :])))


def _decode_value(raw: bytes) -> str:
    return raw.strip(_OWS).decode("utf-8", "replace")


def _framing(
    is_request: bool, method: str, target: str, status_code: int, status_phrase: str, version: str, headers: Headers
) -> Head:
    content_length: int | None = None
    codings: list[str] | None = None
    connection: set[str] | None = None
    for name, value in headers:
        if name == "content-length":
            if content_length is None and value.isdigit() and value.isascii() and len(value) <= 18:
                content_length = int(value)  # the usual single value
            else:
                content_length = _content_length(value, content_length)
        elif name == "transfer-encoding":
            if codings is None:
                codings = []
            codings.extend(c.strip().lower() for c in value.split(",") if c.strip())
        elif name == "connection":
            if connection is None:
                connection = set()
            connection.update(t.strip().lower() for t in value.split(",") if t.strip())
    has_te = bool(codings)
    chunked = codings is not None and has_te and codings[-1] == "chunked"
    if is_request and has_te and not chunked:
        raise ProtocolError("request Transfer-Encoding does not end in chunked (RFC 9112 6.3)")
    return Head(is_request, method, target, status_code, status_phrase, version, headers, content_length, chunked,
                has_te, frozenset(connection) if connection else _NO_TOKENS)


def _content_length(value: str, previous: int | None) -> int:
    if value.isdigit() and value.isascii() and len(value) <= 18:  # the usual single value
        length = int(value)
        if previous is not None and previous != length:
            raise ProtocolError("conflicting Content-Length fields")
        return length
    # "5, 5" and repeated equal fields are allowed; differing values are not (RFC 9112 6.3).
    lengths = {v.strip() for v in value.split(",")}
    if len(lengths) != 1:
        raise ProtocolError(f"conflicting Content-Length {value!r}")
    (text,) = lengths
    if _DIGITS.fullmatch(text.encode("ascii", "replace")) is None:
        raise ProtocolError(f"invalid Content-Length {value!r}")
    length = int(text)
    if previous is not None and previous != length:
        raise ProtocolError("conflicting Content-Length fields")
    return length
