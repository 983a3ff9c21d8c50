"""A sans-IO RESP2/RESP3 reader for one direction of a Redis connection.

It renders each top-level value as it is read, into one bounded buffer, instead of building a tree:
a reply of any size (a 50 MB bulk string, an array of a million elements) costs at most
`max_message_size` bytes of rendering plus a stack of open aggregates (`MAX_DEPTH`). Renderings follow
Packetbeat: arrays as `[a, b]`, a null as `nil`, a command as its arguments joined by spaces. RESP3
adds maps (`{k: v}`), sets, pushes, doubles, big numbers, booleans, verbatim strings (shown without
their `txt:` prefix), bulk errors, attributes (read and left out) and streamed strings and aggregates.

Requests not starting with `*` are inline commands, as the server reads them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from packetshipper.protocol import ProtocolError, StreamParser
from packetshipper.records import record

from .inline import split_args
from .messages import RedisRequest, RedisResponse

__all__ = ["Limits", "RespParser", "MAX_DEPTH", "MAX_BULK_LENGTH", "CONTAINER_COMMANDS"]

MAX_DEPTH = 32  # nested aggregates; real replies nest a few levels
MAX_BULK_LENGTH = 512 * 1024 * 1024  # the server's default proto-max-bulk-len
MAX_AGGREGATE_LENGTH = 1 << 32
HEAD = 3  # top-level elements kept apart: command, subcommand, key (or push kind, channel, count)

# Commands whose first argument is a subcommand, part of the method (`CONFIG GET`).
CONTAINER_COMMANDS = frozenset({
    b"ACL", b"CLIENT", b"CLUSTER", b"COMMAND", b"CONFIG", b"DEBUG", b"FUNCTION", b"LATENCY", b"MEMORY",
    b"MODULE", b"OBJECT", b"PUBSUB", b"SCRIPT", b"SLOWLOG", b"XGROUP", b"XINFO",
})

Counter = Callable[..., None]


@record
class Limits:
    max_message_size: int  # rendering kept per message
    max_line_length: int  # a header or simple line (inline commands included) without its CRLF


class _State(enum.Enum):
    LINE = enum.auto()  # a type line, or an inline command
    BODY = enum.auto()  # inside a bulk string's bytes
    BODY_END = enum.auto()  # the CRLF after them


class _Frame:
    """An open aggregate: its type byte, elements still expected (-1: streamed), elements seen."""

    __slots__ = ("kind", "remaining", "index")

    def __init__(self, kind: int, remaining: int) -> None:
        self.kind = kind
        self.remaining = remaining
        self.index = 0


_ARRAY, _MAP, _SET, _PUSH, _ATTR = (ord(c) for c in "*%~>|")
_BULK, _BULK_ERROR, _VERBATIM = (ord(c) for c in "$!=")
_SIMPLE, _ERROR, _INT, _DOUBLE, _BIGNUM, _BOOL, _NULL = (ord(c) for c in "+-:,(#_")
_CHUNK, _END = ord(";"), ord(".")
_AGGREGATES = frozenset((_ARRAY, _MAP, _SET, _PUSH, _ATTR))
_ONE_LINE = frozenset((_SIMPLE, _ERROR, _INT))
_BULKS = frozenset((_BULK, _BULK_ERROR, _VERBATIM))
_OPEN = {_ARRAY: b"[", _SET: b"[", _PUSH: b"[", _MAP: b"{", _ATTR: b""}
_CLOSE = {_ARRAY: b"]", _SET: b"]", _PUSH: b"]", _MAP: b"}", _ATTR: b""}
_NIL = b"nil"


def _integer(text: bytes, what: str) -> int:
    if not text or not (text.isdigit() or (text[:1] == b"-" and text[1:].isdigit())):
        raise ProtocolError(f"bad {what}: {text[:40]!r}")
    return int(text)


def _double(text: bytes) -> bytes:
    try:
        float(text)
    except ValueError:
        raise ProtocolError(f"bad double: {text[:40]!r}") from None
    return text


class RespParser(StreamParser):
    """Bytes of one direction in, `RedisRequest`s (request side) or `RedisResponse`s out."""

    def __init__(self, limits: Limits, *, request: bool, count: Counter) -> None:
        self._limits = limits
        self._request = request
        self._count = count
        self._buf = bytearray()
        self._state = _State.LINE
        self._stack: list[_Frame] = []
        self._reset_message()
        self._bulk_left = 0
        self._bulk_kind = 0
        self._skip = 0  # prefix bytes of a verbatim string not shown
        self._in_streamed_string = False
        self._scanned = 0  # bytes of the pending line already searched for its end

    def _reset_message(self) -> None:
        self._out = bytearray()
        self._truncated = False
        self._gap = False
        self._ts: float | None = None
        self._size = 0
        self._kind = 0
        self._error = False
        self._head: list[bytes] = []
        self._head_start = 0
        self._count_top = 0
        self._mute = 0  # inside an attribute: read, not shown

    # --- StreamParser -----------------------------------------------------------------------------
    def receive_data(self, data: bytes, ts: float) -> list[RedisRequest | RedisResponse]:
        buf = self._buf
        buf += data
        out: list[RedisRequest | RedisResponse] = []
        pos, end = 0, len(buf)
        while pos < end:
            if self._ts is None:
                self._ts = ts
            state = self._state
            if state is _State.LINE and not self._size and not self._stack and not self._in_streamed_string:
                start = self._ts  # the first byte may have come in an earlier call
                message = (self._fast_request(buf, pos, start) if self._request
                           else self._fast_reply(buf, pos, start))
                if message is not None:
                    out.append(message)
                    pos += message.size
                    self._ts = None
                    self._scanned = 0  # the line an earlier call searched in part was this message
                    continue
            if state is _State.LINE:
                new = self._line(buf, pos, out)
            elif state is _State.BODY:
                new = self._body(buf, pos)
            else:
                new = self._body_end(buf, pos, out)
            if new < 0:
                break
            self._size += new - pos
            pos = new
        del buf[:pos]
        return out

    # --- fast paths: a whole common message at the start of the buffer, or None (then read step by step) ---
    def _fast_request(self, buf: bytearray, pos: int, ts: float) -> RedisRequest | None:
        """A command of bulk strings (what client libraries send), all of it already here and within limits."""
        if buf[pos] != _ARRAY:
            return None
        stop = buf.find(b"\r\n", pos, pos + 24)
        digits = buf[pos + 1:stop]
        if stop < 0 or not digits.isdigit():
            return None
        count = int(digits)
        if not 0 < count <= 64:
            return None
        at, end, room = stop + 2, len(buf), self._limits.max_message_size
        args = []
        for _ in range(count):
            if at >= end or buf[at] != _BULK:
                return None
            stop = buf.find(b"\r\n", at, at + 24)
            digits = buf[at + 1:stop]
            if stop < 0 or not digits.isdigit():
                return None
            length = int(digits)
            after = stop + 2 + length
            if length > room or after + 2 > end or buf[after] != 13 or buf[after + 1] != 10:
                return None
            args.append(bytes(buf[stop + 2:after]))
            room -= length + 1
            at = after + 2
        line = self._limits.max_line_length  # what the step-by-step reader keeps of a name or key
        name = args[0][:line].upper()
        resource_at = 1
        if name in CONTAINER_COMMANDS and count > 1:
            name = name + b" " + args[1][:line].upper()
            resource_at = 2
        return RedisRequest(ts=ts, size=at - pos, method=name.decode("utf-8", "backslashreplace"),
                            resource=args[resource_at][:line] if count > resource_at else None,
                            query=b" ".join(args), argc=count)

    def _fast_reply(self, buf: bytearray, pos: int, ts: float) -> RedisResponse | None:
        """A one-line reply (`+`, `-`, `:`) or a bulk string, all of it already here and within limits."""
        kind = buf[pos]
        if kind == _BULK:
            stop = buf.find(b"\r\n", pos, pos + 24)
            digits = buf[pos + 1:stop]
            if stop < 0 or not digits.isdigit():
                return None
            length = int(digits)
            after = stop + 2 + length
            if length > self._limits.max_message_size or after + 2 > len(buf) or buf[after] != 13 \
                    or buf[after + 1] != 10:
                return None
            return RedisResponse(ts=ts, size=after + 2 - pos, kind="$", text=bytes(buf[stop + 2:after]))
        if kind not in _ONE_LINE:
            return None
        stop = buf.find(b"\r\n", pos, pos + 1024)  # longer lines take the step-by-step path
        if stop < 0 or stop - pos > self._limits.max_line_length or stop - pos > self._limits.max_message_size:
            return None
        text = bytes(buf[pos + 1:stop])
        if kind == _INT and not (text.isdigit() or (text[:1] == b"-" and text[1:].isdigit())):
            return None
        return RedisResponse(ts=ts, size=stop + 2 - pos, kind=chr(kind), text=text, is_error=kind == _ERROR)

    def receive_gap(self, nbytes: int, ts: float) -> list[RedisRequest | RedisResponse]:
        # Lost bytes inside a bulk string can be stepped over: the framing resumes after them.
        if self._state is _State.BODY and nbytes <= self._bulk_left and not self._buf:
            self._bulk_left -= nbytes
            self._size += nbytes
            self._gap = True
            self._count("gaps_in_values")
            if self._bulk_left == 0:
                self._state = _State.BODY_END
            return []
        raise ProtocolError(f"{nbytes} bytes lost outside a bulk string")

    def receive_eof(self, ts: float) -> list[RedisRequest | RedisResponse]:
        if self._ts is not None and (self._size or self._buf):
            self._count("messages_cut_by_close")
        return []

    # --- reading ----------------------------------------------------------------------------------
    def _line(self, buf: bytearray, pos: int, out: list[RedisRequest | RedisResponse]) -> int:
        inline = self._request and not self._stack and not self._in_streamed_string and buf[pos] != _ARRAY
        stop = buf.find(b"\n" if inline else b"\r\n", pos + self._scanned)
        if stop < 0:
            if len(buf) - pos > self._limits.max_line_length:
                self._count("lines_too_long")
                raise ProtocolError(f"line longer than max_line_length ({self._limits.max_line_length})")
            self._scanned = max(0, len(buf) - pos - 1)  # a line arriving in many pieces is searched once
            return -1
        self._scanned = 0
        if stop - pos > self._limits.max_line_length:
            self._count("lines_too_long")
            raise ProtocolError(f"line longer than max_line_length ({self._limits.max_line_length})")
        if inline:
            line = bytes(buf[pos:stop - 1 if stop > pos and buf[stop - 1] == 13 else stop])
            self._inline(line, stop + 1 - pos, out)
            return stop + 1
        self._value_line(bytes(buf[pos:stop]), out)
        return stop + 2

    def _inline(self, line: bytes, size: int, out: list[RedisRequest | RedisResponse]) -> None:
        args = split_args(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in inline command")
        if not args:  # the server skips empty lines
            self._reset_message()
            self._size = -size  # receive_data adds the line's bytes back
            return
        self._kind = 0
        for index, arg in enumerate(args):
            if index:
                self._write(b" ")
            start = len(self._out)
            self._write(arg)
            if index < HEAD:
                self._head.append(bytes(self._out[start:start + self._limits.max_line_length]))
        self._count_top = len(args)
        self._size += size
        message = self._request_message(inline=True)
        if message is not None:
            out.append(message)
        self._reset_message()
        self._size = -size

    def _value_line(self, line: bytes, out: list[RedisRequest | RedisResponse]) -> None:
        if not line:
            raise ProtocolError("empty line where a RESP value was expected")
        kind, rest = line[0], line[1:]
        if self._in_streamed_string:
            if kind != _CHUNK:
                raise ProtocolError(f"expected a streamed string chunk, got {line[:20]!r}")
            length = _integer(rest, "chunk length")
            if length == 0:
                self._in_streamed_string = False
                self._end_value(out, len(line) + 2)
            else:
                self._start_bulk(_BULK, length)
            return
        if kind == _END:
            top = self._stack[-1] if self._stack else None
            if top is None or top.remaining != -1 or rest:
                raise ProtocolError("end of a streamed aggregate outside one")
            self._close_frame(out, len(line) + 2)
            return
        self._begin_value(kind)
        if kind in _BULKS:
            if rest == b"?" and kind == _BULK:
                self._in_streamed_string = True
                return
            length = _integer(rest, "bulk length")
            if length == -1 and kind == _BULK:
                self._write(_NIL)
                self._end_value(out, len(line) + 2)
                return
            if length < 0 or length > MAX_BULK_LENGTH:
                raise ProtocolError(f"bulk length out of range: {length}")
            self._start_bulk(kind, length)
            if kind == _VERBATIM:
                self._skip = min(4, length)  # the 3-letter format and its colon
            return
        if kind in _AGGREGATES:
            self._open(kind, rest, out, len(line) + 2)
            return
        self._write(self._scalar(kind, rest, line))
        self._end_value(out, len(line) + 2)

    def _scalar(self, kind: int, rest: bytes, line: bytes) -> bytes:
        if kind in (_SIMPLE, _ERROR):
            return rest
        if kind in (_INT, _BIGNUM):
            _integer(rest, "integer")
            return rest
        if kind == _DOUBLE:
            return _double(rest)
        if kind == _BOOL:
            if rest == b"t":
                return b"true"
            if rest == b"f":
                return b"false"
            raise ProtocolError(f"bad boolean: {rest[:20]!r}")
        if kind == _NULL:
            if rest:
                raise ProtocolError("bytes after a null")
            return _NIL
        raise ProtocolError(f"not a RESP type: {line[:20]!r}")

    def _open(self, kind: int, rest: bytes, out: list[RedisRequest | RedisResponse], line_size: int) -> None:
        if len(self._stack) >= MAX_DEPTH:
            raise ProtocolError(f"aggregates nested deeper than {MAX_DEPTH}")
        if rest == b"?":
            length = -1
        else:
            length = _integer(rest, "aggregate length")
            if length < -1 or length > MAX_AGGREGATE_LENGTH:
                raise ProtocolError(f"aggregate length out of range: {length}")
            if length == -1:
                if kind != _ARRAY:
                    raise ProtocolError("only an array may be null")
                self._write(_NIL)
                self._end_value(out, line_size)
                return
            if kind in (_MAP, _ATTR):
                length *= 2
        if kind == _ATTR:
            self._mute += 1
        top_level_command = self._request and not self._stack
        if not top_level_command:
            self._write(_OPEN[kind])
        self._stack.append(_Frame(kind, length))
        if length == 0:
            self._close_frame(out, line_size)

    def _start_bulk(self, kind: int, length: int) -> None:
        self._bulk_kind = kind
        self._bulk_left = length
        self._state = _State.BODY if length else _State.BODY_END

    def _body(self, buf: bytearray, pos: int) -> int:
        take = min(self._bulk_left, len(buf) - pos)
        start = pos
        if self._skip:
            skipped = min(self._skip, take)
            self._skip -= skipped
            start += skipped
        room = self._limits.max_message_size - len(self._out)
        shown = pos + take - start
        if not self._mute:
            if shown <= room:
                self._out += buf[start:pos + take]
            else:
                if room > 0:
                    self._out += buf[start:start + room]
                self._truncated = True
        self._bulk_left -= take
        if self._bulk_left == 0:
            self._state = _State.BODY_END
        return pos + take

    def _body_end(self, buf: bytearray, pos: int, out: list[RedisRequest | RedisResponse]) -> int:
        if len(buf) - pos < 2:
            return -1
        if buf[pos] != 13 or buf[pos + 1] != 10:
            raise ProtocolError("bulk string not followed by CRLF")
        self._state = _State.LINE
        if not self._in_streamed_string:
            if self._bulk_kind == _BULK_ERROR and not self._stack:
                self._error = True
            self._end_value(out, 2)
        return pos + 2

    # --- rendering --------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._mute:
            return
        room = self._limits.max_message_size - len(self._out)
        if len(data) <= room:
            self._out += data
        else:
            if room > 0:
                self._out += data[:room]
            self._truncated = True

    def _begin_value(self, kind: int) -> None:
        stack = self._stack
        if not stack:
            self._kind = kind
            if kind == _ERROR:
                self._error = True
            return
        if kind == _ATTR:
            return  # not an element of its parent
        frame = stack[-1]
        if frame.index:
            if len(stack) == 1 and self._request:
                self._write(b" ")
            elif frame.kind == _MAP or frame.kind == _ATTR:
                self._write(b": " if frame.index % 2 else b", ")
            else:
                self._write(b", ")
        if len(stack) == 1:
            self._head_start = len(self._out)

    def _end_value(self, out: list[RedisRequest | RedisResponse], size: int) -> None:
        """A value just ended: count it in its aggregate, closing those it completes."""
        stack = self._stack
        if not stack:
            self._finish(out, size)
            return
        frame = stack[-1]
        if len(stack) == 1 and frame.index < HEAD and frame.kind != _ATTR:
            start = self._head_start  # a key or subcommand: kept apart up to a line's length
            self._head.append(bytes(self._out[start:start + self._limits.max_line_length]))
        frame.index += 1
        if frame.remaining > 0:
            frame.remaining -= 1
            if frame.remaining == 0:
                self._close_frame(out, size)

    def _close_frame(self, out: list[RedisRequest | RedisResponse], size: int) -> None:
        frame = self._stack.pop()
        if frame.kind == _ATTR:
            self._mute -= 1
            return  # the value it annotates follows
        if not (self._request and not self._stack):
            self._write(_CLOSE[frame.kind])
        if not self._stack:
            self._count_top = frame.index
        self._end_value(out, size)

    def _finish(self, out: list[RedisRequest | RedisResponse], size: int) -> None:
        self._size += size  # receive_data adds the last step's bytes after this returns
        message = self._request_message(inline=False) if self._request else self._response_message()
        if message is not None:
            out.append(message)
        if self._truncated:
            self._count("messages_truncated")
        self._reset_message()
        self._size = -size

    def _request_message(self, *, inline: bool) -> RedisRequest | None:
        assert self._ts is not None
        head = self._head
        if self._kind == _ARRAY and self._count_top == 0:
            return None  # `*0` / `*-1`: the server ignores them
        if not head:
            command = bytes(self._out)
            head = [command]
        name = head[0].upper()
        resource_at = 1
        if name in CONTAINER_COMMANDS and len(head) > 1:
            name = name + b" " + head[1].upper()
            resource_at = 2
        return RedisRequest(
            ts=self._ts,
            size=self._size,
            method=name.decode("utf-8", "backslashreplace"),
            resource=head[resource_at] if len(head) > resource_at else None,
            query=bytes(self._out),
            argc=self._count_top or 1,
            inline=inline,
            truncated=self._truncated,
            gap=self._gap,
        )

    def _response_message(self) -> RedisResponse:
        assert self._ts is not None
        return RedisResponse(
            ts=self._ts,
            size=self._size,
            kind=chr(self._kind),
            text=bytes(self._out),
            is_error=self._error,
            head=tuple(self._head),
            count=self._count_top,
            truncated=self._truncated,
            gap=self._gap,
        )
