"""The two SMTP stream parsers: client commands (and the message after DATA or BDAT), server replies.

Sans-IO. They share a `SessionState` with the connection's correlator, which tells the client's
parser what the server answered: the bytes after DATA are a message only if the server said 354,
a line after a 334 challenge is an AUTH response (credentials: not kept), and after a 220 to
STARTTLS the connection is TLS, so both parsers stop reading.
"""

from __future__ import annotations

import enum
from typing import Any

from packetshipper.debuglog import Counter
from packetshipper.protocol import ProtocolError, StreamParser
from packetshipper.records import record

from .content import ContentReader
from .headers import HeaderReader
from .messages import AuthResponse, Command, Reply, SessionState

__all__ = ["ClientParser", "Limits", "ServerParser", "starts_tls"]


@record
class Limits:
    max_line_length: int = 4096
    max_header_size: int = 64 * 1024
    max_reply_lines: int = 100


class _Mode(enum.Enum):
    COMMAND = enum.auto()
    AFTER_DATA = enum.auto()  # DATA sent: a message follows if the server says 354
    CONTENT = enum.auto()
    CHUNK = enum.auto()  # the bytes of a BDAT chunk


def starts_tls(data: bytes, state: SessionState, count: Counter) -> bool:
    """A TLS handshake record where SMTP should begin (implicit TLS, as on port 465): the session is
    TLS from here on, so nothing more is read (counted, not a protocol error)."""
    if data[:1] == b"\x16" and data[1:2] == b"\x03":
        state.tls = True
        count("implicit_tls")
        return True
    return False


def _word(line: bytes) -> tuple[str, str]:
    text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    verb, _, arg = text.partition(" ")
    if not (verb.isascii() and verb.isalpha() and len(verb) <= 12):
        return "", text
    return verb.upper(), arg.strip()


class ClientParser(StreamParser):
    def __init__(self, limits: Limits, state: SessionState, count: Counter) -> None:
        self._limits = limits
        self._state = state
        self._count = count
        self._buf = b""
        self._mode = _Mode.COMMAND
        self._content: ContentReader | None = None
        self._chunk: Command | None = None  # the BDAT whose chunk is being read
        self._left = 0
        self._chunk_headers: HeaderReader | None = None  # across the BDAT chunks of one message
        self._chunk_line = b""
        self._started = False

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if self._state.tls:
            self._buf = b""
            return []
        if not self._started:
            self._started = True
            if starts_tls(data, self._state, self._count):
                return []
        buf = self._buf + data if self._buf else data
        out: list[Any] = []
        pos = 0
        end = len(buf)
        while pos < end:
            mode = self._mode
            if mode is _Mode.COMMAND:
                if self._state.tls:
                    pos = end
                    break
                nl = buf.find(b"\n", pos)
                if nl < 0 or nl - pos > self._limits.max_line_length:
                    if nl >= 0 or end - pos > self._limits.max_line_length:
                        self._count("lines_too_long")
                        raise ProtocolError(f"command line over max_line_length ({self._limits.max_line_length})")
                    break
                message = self._line(buf[pos:nl + 1], ts)
                pos = nl + 1
                if message is not None:
                    out.append(message)
            elif mode is _Mode.AFTER_DATA:
                if self._state.data_accepted is False:
                    self._mode = _Mode.COMMAND
                else:  # 354, or no reply seen yet: a client only sends a message after 354
                    self._mode = _Mode.CONTENT
                    self._content = ContentReader(self._limits.max_header_size)
            elif mode is _Mode.CONTENT:
                reader = self._content
                assert reader is not None
                pos, done = reader.feed(buf, pos)
                if not done:
                    break
                out.append(reader.content(ts))
                self._content = None
                self._mode = _Mode.COMMAND
            else:
                take = min(self._left, end - pos)
                self._chunk_bytes(buf[pos:pos + take])
                self._left -= take
                pos += take
                if not self._left:
                    out.append(self._chunk_done())
        self._buf = buf[pos:]
        return out

    def _line(self, line: bytes, ts: float) -> Any:
        state = self._state
        if state.auth_challenge:
            state.auth_challenge = False
            return AuthResponse(ts, len(line))
        verb, arg = _word(line)
        if verb == "AUTH":
            arg = arg.partition(" ")[0].upper()  # the mechanism; an initial response is credentials
        elif verb == "DATA":
            state.data_accepted = None
            self._mode = _Mode.AFTER_DATA
        elif verb == "BDAT":
            return self._bdat(arg, ts, len(line))
        return Command(verb, arg, ts, len(line))

    def _bdat(self, arg: str, ts: float, size: int) -> Any:
        parts = arg.split()
        if not parts or not parts[0].isdigit() or len(parts[0]) > 18:
            return Command("BDAT", arg, ts, size)  # the server will refuse it; no chunk follows
        chunk = int(parts[0])
        last = len(parts) > 1 and parts[1].upper() == "LAST"
        self._chunk = Command("BDAT", arg, ts, size, chunk=chunk, last=last)
        if self._chunk_headers is None:
            self._chunk_headers = HeaderReader(self._limits.max_header_size)
            self._chunk_line = b""
        self._left = chunk
        self._mode = _Mode.CHUNK
        if not chunk:
            return self._chunk_done()
        return None

    def _chunk_bytes(self, data: bytes) -> None:
        headers = self._chunk_headers
        if headers is None or headers.done:
            return
        data = self._chunk_line + data
        pos = 0
        while not headers.done:
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._chunk_line = data[pos:]
                if len(self._chunk_line) > self._limits.max_header_size:
                    headers.give_up()
                return
            headers.line(data[pos:nl + 1])
            pos = nl + 1
        self._chunk_line = b""

    def _chunk_done(self) -> Command:
        chunk = self._chunk
        assert chunk is not None
        self._mode = _Mode.COMMAND
        self._chunk = None
        headers: tuple[tuple[str, str], ...] = ()
        if chunk.last and self._chunk_headers is not None:
            headers = tuple(self._chunk_headers.headers)
            self._chunk_headers = None
        return Command(chunk.verb, chunk.arg, chunk.ts, chunk.size + chunk.chunk, chunk=chunk.chunk,
                       last=chunk.last, headers=headers)

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        if self._state.tls:
            return []
        if self._mode is _Mode.CONTENT and self._content is not None:
            self._count("gaps_in_messages")
            self._buf = b""
            self._content.lost(nbytes)
            return []
        if self._mode is _Mode.CHUNK and nbytes <= self._left:
            self._count("gaps_in_messages")
            self._left -= nbytes
            if self._chunk_headers is not None:
                self._chunk_headers.give_up()
            return [self._chunk_done()] if not self._left else []
        raise ProtocolError(f"{nbytes} bytes lost between commands")


class ServerParser(StreamParser):
    def __init__(self, limits: Limits, state: SessionState, count: Counter) -> None:
        self._limits = limits
        self._state = state
        self._count = count
        self._buf = b""
        self._lines: list[str] = []
        self._dropped = 0
        self._code = 0
        self._size = 0
        self._ts = 0.0
        self._started = False

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        state = self._state
        if state.tls:
            self._buf = b""
            return []
        if not self._started:
            self._started = True
            if starts_tls(data, state, self._count):
                return []
        buf = self._buf + data if self._buf else data
        limit = self._limits.max_line_length
        out: list[Any] = []
        pos = 0
        end = len(buf)
        while pos < end:
            nl = buf.find(b"\n", pos)
            if nl < 0 or nl - pos > limit:
                if nl >= 0 or end - pos > limit:
                    self._count("lines_too_long")
                    raise ProtocolError(f"reply line over max_line_length ({limit})")
                break
            reply = self._reply_line(buf[pos:nl + 1], ts)
            pos = nl + 1
            if reply is not None:
                out.append(reply)
        self._buf = buf[pos:]
        return out

    def _reply_line(self, line: bytes, ts: float) -> Reply | None:
        body = line.rstrip(b"\r\n")
        code = body[:3]
        sep = body[3:4]
        if len(code) != 3 or not code.isdigit() or sep not in (b"", b" ", b"-") or not b"2" <= code[:1] <= b"5":
            raise ProtocolError(f"not a reply line: {body[:40]!r}")
        if not self._lines and not self._dropped:
            self._ts = ts
            self._size = 0
        self._size += len(line)
        self._code = int(code)
        if len(self._lines) < self._limits.max_reply_lines:
            self._lines.append(body[4:].decode("utf-8", "backslashreplace"))
        else:
            self._dropped += 1
        if sep == b"-":
            return None
        reply = Reply(self._code, tuple(self._lines), self._ts, self._size, self._dropped)
        if self._dropped:
            self._count("reply_lines_dropped", self._dropped)
        self._lines = []
        self._dropped = 0
        return reply
