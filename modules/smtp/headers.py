"""The header section at the start of a message: kept headers, unfolded, bounded in size."""

from __future__ import annotations

import email.errors
import email.header

__all__ = ["KEPT", "HeaderReader", "decode_words"]

# The headers an SMTP event reports; the others are read past and not kept.
KEPT = frozenset({"subject", "from", "to", "cc", "date", "message-id"})


class HeaderReader:
    """Fed the message's lines one at a time until the empty line that ends the headers.

    At most `limit` bytes of header section are looked at; past that the rest is not read as headers
    (`truncated`), so a message without a blank line never makes this grow."""

    __slots__ = ("_limit", "_seen", "_name", "_value", "headers", "done", "truncated")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen = 0
        self._name: str | None = None
        self._value: list[bytes] = []
        self.headers: list[tuple[str, str]] = []
        self.done = False
        self.truncated = False

    def line(self, line: bytes) -> None:
        """One whole line of the header section, line end included."""
        if self.done:
            return
        self._seen += len(line)
        if self._seen > self._limit:
            self.give_up()
            return
        body = line.rstrip(b"\r\n")
        if not body:
            self._finish()
            self.done = True
        elif body[:1] in (b" ", b"\t"):
            if self._name is not None:
                self._value.append(body)
        else:
            self._finish()
            name, colon, value = body.partition(b":")
            if colon and name and b" " not in name.strip():
                key = name.strip().decode("ascii", "replace").lower()
                if key in KEPT:
                    self._name = key
                    self._value = [value]

    def give_up(self) -> None:
        """The headers are longer than the limit, or bytes were lost: keep what is complete."""
        if not self.done:
            self._name = None
            self.done = True
            self.truncated = True

    def _finish(self) -> None:
        if self._name is not None:
            raw = b"".join(self._value).strip()
            self.headers.append((self._name, decode_words(raw.decode("utf-8", "replace"))))
        self._name = None
        self._value = []


def decode_words(value: str) -> str:
    """RFC 2047 encoded words (`=?utf-8?q?...?=`) decoded; the text as it is if they do not decode."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, email.errors.MessageError):
        return value
