"""SIP messages from UDP datagrams and TCP streams (RFC 3261 sections 7 and 18.3). Sans-IO.

A datagram is one message: its body is what follows the header block, cut at Content-Length. On a
stream Content-Length frames the body (RFC 3261 18.3: it is mandatory there; absent means none), and
the CRLFs a peer sends as keep-alives between messages are skipped (RFC 5626 4.4.1).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from packetshipper.protocol import ProtocolError, StreamParser

from .messages import SipMessage
from .uri import leading_int

__all__ = ["SipProtocolError", "parse_datagram", "parse_head", "SipStreamParser", "looks_like_sip"]

Counter = Callable[[str], None]

_MIN_STATUS_LINE = len("SIP/2.0 200")
_TOKEN_EXTRA = frozenset(b"-.!%*_+`'~")

# RFC 3261 7.3.3 and IANA's SIP parameters registry: the one-letter compact header names.
COMPACT_NAMES = {
    "a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
    "e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact", "k": "supported",
    "l": "content-length", "m": "contact", "o": "event", "r": "refer-to", "s": "subject", "t": "to",
    "u": "allow-events", "v": "via", "x": "session-expires", "y": "identity",
}


class SipProtocolError(ProtocolError):
    """Bytes that are not a SIP message."""


def _is_token(data: bytes) -> bool:
    return bool(data) and all((0x30 <= b <= 0x39) or (0x41 <= b <= 0x5A) or (0x61 <= b <= 0x7A) or b in _TOKEN_EXTRA
                              for b in data)


def _version(text: bytes) -> str:
    # "2.0": one digit, a dot, one digit, as Packetbeat reads it.
    if len(text) != 3 or text[1:2] != b"." or not (text[:1].isdigit() and text[2:3].isdigit()):
        raise SipProtocolError(f"bad SIP version {text[:16]!r}")
    return text.decode("ascii")


def _start_line(line: bytes) -> tuple[bool, str, str, int, str, str]:
    if len(line) < _MIN_STATUS_LINE:
        raise SipProtocolError("start line too short")
    if line.startswith(b"SIP/"):
        version = _version(line[4:7])
        status = line[8:]
        code_text, _, phrase = status.partition(b" ")
        if line[7:8] != b" " or len(code_text) != 3 or not code_text.isdigit():
            raise SipProtocolError(f"bad status line {line[:40]!r}")
        return False, "", "", int(code_text), phrase.decode("utf-8", "replace"), version
    first, last = line.find(b" "), line.rfind(b" ")
    if first <= 0 or first == last:
        raise SipProtocolError(f"not a SIP request line {line[:40]!r}")
    method, version_part = line[:first], line[last + 1:]
    if not _is_token(method) or not version_part.startswith(b"SIP/"):
        raise SipProtocolError(f"not a SIP request line {line[:40]!r}")
    uri = line[first + 1:last].decode("utf-8", "replace")
    return True, method.decode("ascii"), uri, 0, "", _version(version_part[4:])


def looks_like_sip(data: bytes) -> bool:
    """Whether `data` begins like a SIP start line (for detection): `SIP/2.0 NNN` or `METHOD uri SIP/2.0`."""
    head = data.lstrip(b"\r\n")
    end = head.find(b"\r\n")
    line = head[:end] if end != -1 else head[:512]
    try:
        _start_line(line)
    except SipProtocolError:
        return False
    return end != -1


def _headers(block: bytes) -> list[tuple[str, str]]:
    """Header lines (folded continuations joined: RFC 3261 7.3.1), names lower case and expanded."""
    lines = block.split(b"\r\n")
    out: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            last_name, last_value = out[-1]
            out[-1] = (last_name, f"{last_value} {line.strip().decode('utf-8', 'replace')}".strip())
            continue
        raw_name, colon, raw_value = line.partition(b":")
        if not colon:
            continue  # a line without a colon is no header: skipped
        key = raw_name.strip().lower().decode("ascii", "replace")
        out.append((COMPACT_NAMES.get(key, key), raw_value.strip().decode("utf-8", "replace")))
    return out


def parse_head(head: bytes) -> tuple[bool, str, str, int, str, str, list[tuple[str, str]]]:
    """The start line and headers of `head` (the bytes before the blank line, without it)."""
    line, _, block = head.partition(b"\r\n")
    is_request, method, uri, code, phrase, version = _start_line(line)
    return is_request, method, uri, code, phrase, version, _headers(block)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    found = None
    for name, value in headers:
        if name == "content-length":
            found = value
    if found is None:
        return None
    return max(0, leading_int(found))


def parse_datagram(data: bytes, ts: float) -> SipMessage | None:
    """One UDP datagram; None for a keep-alive (CRLFs only, RFC 5626 4.4.1). Raises `SipProtocolError`."""
    start = len(data) - len(data.lstrip(b"\r\n"))
    if start == len(data):
        return None
    end = data.find(b"\r\n\r\n", start)
    if end == -1:
        # A datagram whose headers do not end with a blank line: take them up to the datagram's end.
        head, rest = data[start:].rstrip(b"\r\n"), b""
    else:
        head, rest = data[start:end], data[end + 4:]
    is_request, method, uri, code, phrase, version, headers = parse_head(head)
    length = _content_length(headers)
    body = rest if length is None else rest[:length]
    truncated = length is not None and len(rest) < length
    return SipMessage(is_request, method, uri, code, phrase, version, tuple(headers), body, data, ts,
                      has_content_length=length is not None, truncated=truncated)


class _State(enum.Enum):
    HEAD = 1
    BODY = 2


class SipStreamParser(StreamParser):
    """One direction of SIP over TCP: messages framed by Content-Length."""

    def __init__(self, max_message_size: int, count: Counter) -> None:
        self._max = max_message_size
        self._count = count
        self._buf = bytearray()
        self._state = _State.HEAD
        self._head: tuple[bool, str, str, int, str, str, list[tuple[str, str]]] | None = None
        self._head_bytes = b""
        self._need = 0
        self._has_length = False
        self._ts = 0.0

    def receive_data(self, data: bytes, ts: float) -> list[SipMessage]:
        self._buf += data
        out: list[SipMessage] = []
        while True:
            if self._state is _State.HEAD and not self._take_head(ts):
                break
            if self._state is _State.BODY:
                if len(self._buf) < self._need:
                    break
                out.append(self._finish(bytes(self._buf[:self._need])))
                del self._buf[:self._need]
        return out

    def _take_head(self, ts: float) -> bool:
        skipped = len(self._buf) - len(self._buf.lstrip(b"\r\n"))
        if skipped:
            del self._buf[:skipped]
            self._count("keepalives")
        if not self._buf:
            return False
        end = self._buf.find(b"\r\n\r\n")
        if end == -1:
            if len(self._buf) > self._max:
                self._count("messages_too_large")
                raise SipProtocolError(f"SIP header block over max_message_size ({self._max} bytes)")
            if len(self._buf) >= _MIN_STATUS_LINE and b"\r\n" in self._buf:
                parse_head(bytes(self._buf[:self._buf.find(b"\r\n")]) + b"\r\n")  # garbage fails early
            return False
        head = bytes(self._buf[:end])
        self._head = parse_head(head)
        length = _content_length(self._head[6])
        self._need = length or 0
        if end + 4 + self._need > self._max:
            self._count("messages_too_large")
            raise SipProtocolError(f"SIP message over max_message_size ({self._max} bytes)")
        self._head_bytes = bytes(self._buf[:end + 4])
        self._has_length = length is not None
        del self._buf[:end + 4]
        self._ts = ts
        self._state = _State.BODY
        return True

    def _finish(self, body: bytes) -> SipMessage:
        assert self._head is not None
        is_request, method, uri, code, phrase, version, headers = self._head
        self._state, self._head = _State.HEAD, None
        return SipMessage(is_request, method, uri, code, phrase, version, tuple(headers), body,
                          self._head_bytes + body, self._ts, has_content_length=self._has_length)
