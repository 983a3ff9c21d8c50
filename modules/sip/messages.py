"""The SIP message the parser returns (RFC 3261 section 7)."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["SipMessage", "Exchange"]


@record
class SipMessage:
    """One request or response. Header names are lower case, compact forms expanded (RFC 3261 7.3.3)."""

    is_request: bool
    method: str  # requests: as sent (the event upper-cases it)
    uri: str  # requests: the Request-URI
    code: int  # responses: the status code
    phrase: str  # responses: the reason phrase
    version: str  # "2.0"
    headers: tuple[tuple[str, str], ...]  # every header in order, values trimmed
    body: bytes
    raw: bytes  # the bytes the message came in (a UDP datagram, or one message of a TCP stream)
    ts: float
    has_content_length: bool = False
    truncated: bool = False  # fewer body bytes than Content-Length said (UDP)

    def first(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def last(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@record
class Exchange:
    """What the correlator hands on: one message and whether the connection's client sent it."""

    message: SipMessage
    from_client: bool
