"""Sans-IO HTTP/1.x stream parser: one per direction; bytes and timestamps in, messages out.

Framing follows RFC 9112 section 6: Content-Length, chunked (with trailers) or, for responses,
close-delimited bodies; no body for HEAD responses, 1xx, 204 and 304. A response without any length
on a kept-alive connection is taken as bodiless, as Packetbeat does. Only the header block and kept
bodies are buffered, each bounded by `max_message_size`; other body bytes are counted and dropped.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import ClassVar

from packetshipper.protocol import ProtocolError, StreamParser

from .body import decode_body, keeps_body
from .exchange import ExchangeLog
from .head import START_BYTES, Head, StartLine, parse_head, parse_start_line, parse_trailers
from .messages import Headers, HttpMessage, HttpRequest, HttpResponse
from .settings import HttpConfig

CRLF = b"\r\n"
END_OF_HEAD = b"\r\n\r\n"
MAX_CHUNK_LINE = 4096
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")

Counter = Callable[[str], None]


def _no_count(name: str) -> None:
    return None


class State(enum.Enum):
    HEAD = enum.auto()
    BODY_LENGTH = enum.auto()
    BODY_UNTIL_CLOSE = enum.auto()
    CHUNK_SIZE = enum.auto()
    CHUNK_DATA = enum.auto()
    CHUNK_END = enum.auto()
    TRAILERS = enum.auto()
    LOST = enum.auto()  # a gap swallowed the start of the next message: nothing can be trusted

    # Members are singletons compared by identity: hash them so too, in C, for the per-call handler
    # lookup (Enum's own __hash__ is a Python function).
    __hash__ = object.__hash__


class _Message:
    """The message being read: its head and running counts."""

    __slots__ = ("head", "raw_head", "ts", "size", "body_bytes", "remaining", "body", "body_room", "notes",
                 "trailers", "gap_noted", "truncated_body")

    def __init__(self, head: Head, raw_head: bytes, ts: float, keep_body: bool, body_room: int) -> None:
        self.head = head
        self.raw_head = raw_head
        self.ts = ts
        self.size = len(raw_head)
        self.body_bytes = 0
        self.remaining = 0
        self.body: bytearray | None = bytearray() if keep_body else None
        self.body_room = body_room
        self.notes: list[str] = []
        self.trailers: tuple[tuple[str, str], ...] = ()
        self.gap_noted = False
        self.truncated_body: bytes | None = None  # what was kept of a body over the limit

    def take(self, data: bytes | bytearray, count: Counter) -> None:
        n = len(data)
        self.size += n
        self.body_bytes += n
        body = self.body
        if body is not None:
            room = self.body_room - len(body)
            if n <= room:
                body += data
            else:
                body += data[:room]
                count("bodies_truncated")
                self.body = None
                self.truncated_body = bytes(body)
                self.notes.append(f"Body trimmed to max_message_size: the first {len(body)} bytes are kept")

    def lost(self, nbytes: int) -> None:
        self.size += nbytes
        self.body_bytes += nbytes
        if not self.gap_noted:
            self.gap_noted = True
            side = "request" if self.head.is_request else "response"
            self.notes.append(f"Packet loss while capturing the {side}")


class HttpStreamParser(StreamParser):
    """Parses one direction of an HTTP/1.x connection (requests or responses, told by the start line)."""

    _HANDLERS: ClassVar[dict[State, Callable[[HttpStreamParser, float, list[HttpMessage]], bool]]]

    def __init__(self, config: HttpConfig, exchange: ExchangeLog | None = None, count: Counter = _no_count) -> None:
        self._config = config
        self._limit = config.max_message_size
        self._count = count
        self._exchange = exchange if exchange is not None else ExchangeLog(config.max_pending_requests, count)
        self._buf = bytearray()
        self._state = State.HEAD
        self._msg: _Message | None = None
        self._start_ts: float | None = None
        self._scan_from = 0
        self._start_checked = False
        self._start: StartLine | None = None  # the buffered head's start line, as checked

    # --- StreamParser -----------------------------------------------------------------------------
    def receive_data(self, data: bytes, ts: float) -> list[HttpMessage]:
        if self._state is State.LOST:
            raise ProtocolError("stream position lost in a gap; waiting for resync")
        if not data:
            return []
        if self._start_ts is None:
            self._start_ts = ts
        out: list[HttpMessage] = []
        buf = self._buf
        if not buf:
            state = self._state
            msg = self._msg
            if state is State.HEAD:
                if not self._start_checked and data[0] in START_BYTES and type(data) is bytes:
                    # A segment that starts with a whole head, the usual case: parsed from the segment, and only
                    # what follows the head is buffered.
                    end = data.find(END_OF_HEAD)
                    cut = end + 4
                    if end >= 0 and cut <= self._limit:
                        if cut == len(data):
                            raw = data
                        else:
                            raw = data[:cut]
                            buf += memoryview(data)[cut:]
                        self._begin_body(parse_head(raw), raw, self._start_ts, ts, out)
                        msg = self._msg
                        if (msg is not None and msg.body is None and self._state is State.BODY_LENGTH
                                and len(buf) < msg.remaining):
                            # The start of a body not kept (`_begin_body` takes a whole one): counted.
                            n = len(buf)
                            msg.size += n
                            msg.body_bytes += n
                            msg.remaining -= n
                            buf.clear()
                            return out
                        data = b""
            elif msg is not None and msg.body is None and state is State.BODY_LENGTH and len(data) < msg.remaining:
                # Body bytes that are not kept and do not end the body: counted, never buffered.
                n = len(data)
                msg.size += n
                msg.body_bytes += n
                msg.remaining -= n
                return out
        buf += data
        handlers = self._HANDLERS
        while self._buf and handlers[self._state](self, ts, out):
            pass
        return out

    def receive_gap(self, nbytes: int, ts: float) -> list[HttpMessage]:
        msg = self._msg
        state = self._state
        if msg is None or state not in (State.BODY_LENGTH, State.CHUNK_DATA, State.BODY_UNTIL_CLOSE):
            raise ProtocolError(f"{nbytes} bytes lost outside a message body")
        self._count("gaps_in_body")
        if state is State.BODY_UNTIL_CLOSE:
            msg.lost(nbytes)
            return []
        if nbytes < msg.remaining or (state is State.CHUNK_DATA and nbytes == msg.remaining):
            msg.lost(nbytes)
            msg.remaining -= nbytes
            if not msg.remaining:
                self._state = State.CHUNK_END
            return []
        # The gap reaches the end of the body (or past a chunk): the message ends here. Bytes lost past
        # that end belonged to what follows, which can no longer be found.
        overflow = nbytes - msg.remaining
        msg.lost(msg.remaining)
        out: list[HttpMessage] = []
        self._complete(ts, out)
        if overflow:
            self._state = State.LOST
        return out

    def receive_eof(self, ts: float) -> list[HttpMessage]:
        out: list[HttpMessage] = []
        msg = self._msg
        if msg is not None:
            if self._state is not State.BODY_UNTIL_CLOSE:
                side = "request" if msg.head.is_request else "response"
                msg.notes.append(f"Connection closed before the end of the {side}")
                self._count("messages_cut_by_close")
            self._complete(ts, out)
        elif self._buf and self._buf.strip(CRLF):
            self._count("heads_cut_by_close")
        self._buf.clear()
        self._state = State.HEAD
        self._start_ts = None
        self._start = None
        self._start_checked = False
        self._scan_from = 0
        return out

    # --- states -----------------------------------------------------------------------------------
    def _on_head(self, ts: float, out: list[HttpMessage]) -> bool:
        buf = self._buf
        if buf[0] == 13:  # CR
            while buf.startswith(CRLF):  # stray empty lines between messages (RFC 9112 2.2)
                del buf[:2]
            if not buf:
                self._start_ts = None  # only stray line ends so far: the next message starts with the next bytes
                return False
            if buf == b"\r":
                return False
        end = buf.find(END_OF_HEAD, self._scan_from)
        if not self._start_checked:
            if buf[0] not in START_BYTES:
                raise ProtocolError(f"not an HTTP/1.x start line: {bytes(buf[:16])!r}")
            # A whole head's start line is parsed with the head; a partial one's is checked now, so garbage
            # is rejected before the rest arrives, and a bad start line is reported before a head too big.
            if end < 0 or end + 4 > self._limit:
                eol = buf.find(CRLF)
                if eol >= 0:
                    self._start = parse_start_line(bytes(buf[:eol]))
                    self._start_checked = True
        if end < 0:
            if len(buf) > self._limit:
                self._count("oversized_heads")
                raise ProtocolError(f"header block over max_message_size ({self._limit} bytes)")
            self._scan_from = max(0, len(buf) - 3)
            return False
        cut = end + 4
        if cut > self._limit:
            self._count("oversized_heads")
            raise ProtocolError(f"header block over max_message_size ({self._limit} bytes)")
        if cut == len(buf):  # the usual case, a head alone in the buffer: one copy instead of two
            raw = bytes(buf)
            buf.clear()
        else:
            raw = bytes(buf[:cut])
            del buf[:cut]
        self._scan_from = 0
        self._start_checked = False
        head = parse_head(raw, self._start)
        self._start = None
        start_ts = self._start_ts if self._start_ts is not None else ts
        self._begin_body(head, raw, start_ts, ts, out)
        return True

    def _on_body_length(self, ts: float, out: list[HttpMessage]) -> bool:
        msg = self._msg
        assert msg is not None
        buf = self._buf
        n = min(len(buf), msg.remaining)
        if msg.body is None:  # not kept: only counted
            msg.size += n
            msg.body_bytes += n
        else:
            msg.take(buf[:n], self._count)
        if n == len(buf):
            buf.clear()
        else:
            del buf[:n]
        msg.remaining -= n
        if msg.remaining:
            return False
        if self._state is State.CHUNK_DATA:
            self._state = State.CHUNK_END
        else:
            self._complete(ts, out)
        return True

    def _on_body_until_close(self, ts: float, out: list[HttpMessage]) -> bool:
        msg = self._msg
        assert msg is not None
        msg.take(self._buf, self._count)
        self._buf.clear()
        return False

    def _on_chunk_size(self, ts: float, out: list[HttpMessage]) -> bool:
        msg = self._msg
        assert msg is not None
        buf = self._buf
        eol = buf.find(CRLF)
        if eol < 0:
            if len(buf) > MAX_CHUNK_LINE:
                raise ProtocolError("chunk-size line too long")
            return False
        size_text = bytes(buf[:eol]).split(b";", 1)[0].strip(b" \t")
        if _CHUNK_SIZE.fullmatch(size_text) is None:
            raise ProtocolError(f"invalid chunk size {size_text[:20]!r}")
        del buf[: eol + 2]
        msg.size += eol + 2
        msg.remaining = int(size_text, 16)
        self._state = State.CHUNK_DATA if msg.remaining else State.TRAILERS
        return True

    def _on_chunk_end(self, ts: float, out: list[HttpMessage]) -> bool:
        msg = self._msg
        assert msg is not None
        buf = self._buf
        if len(buf) < 2:
            if buf[:1] != b"\r":
                raise ProtocolError("chunk data not followed by CRLF")
            return False
        if buf[:2] != CRLF:
            raise ProtocolError("chunk data not followed by CRLF")
        del buf[:2]
        msg.size += 2
        self._state = State.CHUNK_SIZE
        return True

    def _on_trailers(self, ts: float, out: list[HttpMessage]) -> bool:
        msg = self._msg
        assert msg is not None
        buf = self._buf
        if buf.startswith(CRLF):
            del buf[:2]
            msg.size += 2
            self._complete(ts, out)
            return True
        if buf == b"\r":
            return False
        end = buf.find(END_OF_HEAD, self._scan_from)
        if end < 0:
            if len(buf) + len(msg.raw_head) > self._limit:
                self._count("oversized_heads")
                raise ProtocolError("trailer section over max_message_size")
            self._scan_from = max(0, len(buf) - 3)
            return False
        cut = end + 4
        msg.trailers = parse_trailers(bytes(buf[:cut]))
        del buf[:cut]
        self._scan_from = 0
        msg.size += cut
        self._complete(ts, out)
        return True

    def _on_lost(self, ts: float, out: list[HttpMessage]) -> bool:
        raise ProtocolError("stream position lost in a gap; waiting for resync")

    # --- message boundaries -----------------------------------------------------------------------
    def _begin_body(self, head: Head, raw: bytes, start_ts: float, ts: float, out: list[HttpMessage]) -> None:
        config = self._config
        if head.is_request:
            self._exchange.request_sent(head.method)
            patterns = config.include_request_body_for
            keep = (bool(patterns) or bool(head.content_length)) and (
                keeps_body(_content_type(head), patterns)
                or (bool(head.content_length) and "urlencoded" in _content_type(head))
            )
        else:
            patterns = config.include_response_body_for
            keep = bool(patterns) and keeps_body(_content_type(head), patterns)
        state = self._body_state(head)
        if state is None:  # what `_complete` makes of a message without body, trailers or notes
            self._emit(head, head.headers, raw, start_ts, ts, len(raw), 0, b"" if keep else None, (), out)
            self._state = State.HEAD
            self._start_ts = ts if self._buf else None
            return
        buf = self._buf
        length = head.content_length or 0
        if state is State.BODY_LENGTH and not keep and len(buf) >= length:
            # A whole body not kept, already here: what `_on_body_length` and `_complete` would make of it.
            if len(buf) == length:
                buf.clear()
            else:
                del buf[:length]
            self._emit(head, head.headers, raw, start_ts, ts, len(raw) + length, length, None, (), out)
            self._state = State.HEAD
            self._start_ts = ts if buf else None
            return
        self._msg = _Message(head, raw, start_ts, keep, max(0, self._limit - len(raw)))
        self._state = state
        if state is State.BODY_LENGTH:
            self._msg.remaining = head.content_length or 0

    def _body_state(self, head: Head) -> State | None:
        """How the body is delimited (RFC 9112 6.3); None when there is none."""
        if head.is_request:
            if head.chunked:
                return State.CHUNK_SIZE
            return State.BODY_LENGTH if head.content_length else None
        code = head.status_code
        if 100 <= code < 200 and code != 101:
            return None  # interim: the final response to the same request follows
        method = self._exchange.answer_for()
        if code < 200 or code in (204, 304) or method == "HEAD" or (method == "CONNECT" and code < 300):
            return None
        if head.chunked:
            return State.CHUNK_SIZE
        if head.content_length is not None:
            return State.BODY_LENGTH if head.content_length else None
        if head.has_transfer_encoding or "close" in head.connection or (
            not head.keep_alive_by_default and "keep-alive" not in head.connection
        ):
            return State.BODY_UNTIL_CLOSE
        return None

    def _complete(self, ts: float, out: list[HttpMessage]) -> None:
        msg = self._msg
        assert msg is not None
        head = msg.head
        body = bytes(msg.body) if msg.body is not None else msg.truncated_body
        if body and self._config.decode_body:
            encoding = _first(head, "content-encoding")
            if encoding:
                body, note = decode_body(body, encoding, self._limit)
                if note:
                    msg.notes.append(note)
                    self._count("body_decode_errors")
        self._emit(head, head.headers + msg.trailers, msg.raw_head, msg.ts, ts, msg.size, msg.body_bytes, body,
                   tuple(msg.notes), out)
        self._msg = None
        self._state = State.HEAD
        self._start_ts = ts if self._buf else None

    @staticmethod
    def _emit(head: Head, headers: Headers, raw: bytes, start_ts: float, ts: float, size: int, body_bytes: int,
              body: bytes | None, notes: tuple[str, ...], out: list[HttpMessage]) -> None:
        """The message a head and what was read of its body make."""
        if head.is_request:
            out.append(HttpRequest(
                ts=start_ts, end_ts=ts, method=head.method, target=head.target, version=head.version,
                headers=headers, raw_headers=raw, size=size, body_bytes=body_bytes, body=body, notes=notes,
            ))
        else:
            out.append(HttpResponse(
                ts=start_ts, end_ts=ts, version=head.version, status_code=head.status_code,
                status_phrase=head.status_phrase, headers=headers, raw_headers=raw, size=size,
                body_bytes=body_bytes, body=body, notes=notes,
            ))


def _content_type(head: Head) -> str:
    # Repeated Content-Type headers count as one, joined as Packetbeat joins them.
    return ", ".join([value for key, value in head.headers if key == "content-type"])


def _first(head: Head, name: str) -> str:
    for key, value in head.headers:
        if key == name:
            return value
    return ""


HttpStreamParser._HANDLERS = {
    State.HEAD: HttpStreamParser._on_head,
    State.BODY_LENGTH: HttpStreamParser._on_body_length,
    State.CHUNK_DATA: HttpStreamParser._on_body_length,
    State.BODY_UNTIL_CLOSE: HttpStreamParser._on_body_until_close,
    State.CHUNK_SIZE: HttpStreamParser._on_chunk_size,
    State.CHUNK_END: HttpStreamParser._on_chunk_end,
    State.TRAILERS: HttpStreamParser._on_trailers,
    State.LOST: HttpStreamParser._on_lost,
}
