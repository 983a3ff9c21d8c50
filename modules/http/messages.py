"""HTTP/1.x messages as the parser emits them: immutable, with wire sizes and timestamps."""

from __future__ import annotations

from packetshipper.records import record

# (lower-cased name, value) in wire order; repeated names stay repeated.
Headers = tuple[tuple[str, str], ...]


@record
class HttpRequest:
    ts: float  # first byte seen
    end_ts: float  # last byte seen
    method: str
    target: str  # request-target as sent: origin-form, absolute-form, authority-form or "*"
    version: str  # "1.1"
    headers: Headers
    raw_headers: bytes  # start line + header block, CRLFCRLF included
    size: int  # wire bytes: head + body framing + trailers
    body_bytes: int  # message body length (de-chunked, before content decoding)
    body: bytes | None = None  # kept body (decoded), only when configured to keep it
    notes: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@record
class HttpResponse:
    ts: float
    end_ts: float
    version: str
    status_code: int
    status_phrase: str
    headers: Headers
    raw_headers: bytes
    size: int
    body_bytes: int
    body: bytes | None = None
    notes: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def is_interim(self) -> bool:
        """1xx other than 101: a provisional answer; the final response is still to come."""
        return 100 <= self.status_code < 200 and self.status_code != 101


HttpMessage = HttpRequest | HttpResponse


def header_value(headers: Headers, name: str) -> str | None:
    """All values of `name` joined by ", " (RFC 9110 5.3), or None when absent."""
    found = None
    for key, value in headers:
        if key == name:
            found = value if found is None else f"{found}, {value}"
    return found
