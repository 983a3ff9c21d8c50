"""A sans-IO memcache reader for one direction: text or binary, told apart by each message's first byte.

Data blocks (a stored value, a `VALUE` reply, a binary body) are streamed, never buffered whole: what
is kept of them is bounded by `maxvalues` / `maxbytespervalue`, so a value of any size costs one
segment of buffer. Multi-line replies (`VALUE ...` up to `END`, `STAT ...` up to `END`, binary Stat
replies up to the one without a key) come out as one merged message, as Packetbeat merges them.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

from packetshipper.protocol import ProtocolError, StreamParser

from . import codes as c
from .builder import Builder, ValueLimits
from .messages import McMessage
from .text import TextLine, parse_request_line, parse_response_line

__all__ = ["McStreamParser", "HEADER", "REQUEST_MAGIC", "RESPONSE_MAGIC"]

# magic, opcode, key length, extras length, data type, vbucket (request) / status (response),
# total body length, opaque, CAS
HEADER = struct.Struct(">BBHBBHIIQ")
REQUEST_MAGIC, RESPONSE_MAGIC = 0x80, 0x81
_U32, _U64 = struct.Struct(">I"), struct.Struct(">Q")
_STAT = 0x10
_PARSED_VALUES = {"incr", "decr", "version", "stats"}  # binary replies whose value is read, not just counted

Counter = Callable[..., None]


class _State(enum.Enum):
    START = enum.auto()  # the first byte decides: binary magic or a text line
    TEXT_LINE = enum.auto()
    TEXT_DATA = enum.auto()  # a data block, then its CRLF
    BINARY_HEAD = enum.auto()  # header, extras and key
    BINARY_VALUE = enum.auto()

    # Members are singletons compared by identity: hash them so too, in C, for the per-step lookup in
    # _STEPS (Enum's own __hash__ is a Python function).
    __hash__ = object.__hash__


class McStreamParser(StreamParser):
    def __init__(self, limits: ValueLimits, *, request: bool, parse_unknown: bool, count: Counter) -> None:
        self._limits = limits
        self._request = request
        self._parse_unknown = parse_unknown
        self._count = count
        self._buf = bytearray()
        self._state = _State.START
        self._ts: float | None = None
        self._size = 0
        self._builder = Builder()
        self._line: TextLine | None = None  # the text line whose data block is being read
        self._merging: TextLine | None = None  # VALUE / STAT lines merged until END
        self._data_left = 0
        self._head: tuple[int, ...] = ()
        self._binary_value = bytearray()  # a small binary value that is parsed (counter, version, stat)
        self._binary_stats = False  # inside a sequence of binary Stat replies
        self._command = c.UNKNOWN_BINARY
        self._key = b""
        self._has_value = False
        self._scanned = 0  # bytes of the pending text line already searched for its end

    # --- StreamParser -------------------------------------------------------------------------------
    def receive_data(self, data: bytes, ts: float) -> list[McMessage]:
        buf = self._buf
        buf += data
        out: list[McMessage] = []
        pos = 0
        while pos < len(buf):
            if self._ts is None:
                self._ts = ts
            new = _STEPS[self._state](self, buf, pos, out)
            if new < 0:
                break
            self._size += new - pos
            pos = new
        del buf[:pos]
        return out

    @property
    def idle(self) -> bool:
        """Nothing half-read: the next byte starts a new message."""
        return (not self._buf and self._state is _State.START and self._merging is None
                and not self._binary_stats and self._ts is None)

    def receive_gap(self, nbytes: int, ts: float) -> list[McMessage]:
        # Lost bytes inside a data block can be stepped over, as Packetbeat does.
        if self._state in (_State.TEXT_DATA, _State.BINARY_VALUE) and not self._buf and nbytes <= self._data_left:
            self._data_left -= nbytes
            self._size += nbytes
            self._builder.notes.append(("request" if self._request else "response") + " packet loss")
            self._count("gaps_in_values")
            return []
        raise ProtocolError(f"{nbytes} bytes lost outside a data block")

    def receive_eof(self, ts: float) -> list[McMessage]:
        if self._ts is not None and (self._size or self._buf):
            self._count("messages_cut_by_close")
        return []

    # --- steps: each returns the new position, or -1 to wait for more ---------------------------------
    def _start(self, buf: bytearray, pos: int, out: list[McMessage]) -> int:
        if self._binary_stats or (self._merging is None and buf[pos] in (REQUEST_MAGIC, RESPONSE_MAGIC)):
            self._state = _State.BINARY_HEAD
        else:
            self._state = _State.TEXT_LINE
        return pos

    def _text_line(self, buf: bytearray, pos: int, out: list[McMessage]) -> int:
        stop = buf.find(b"\n", pos + self._scanned)
        limit = self._limits.max_line_length
        if stop < 0 or stop - pos > limit:
            if len(buf) - pos > limit:
                self._count("lines_too_long")
                raise ProtocolError(f"line longer than max_line_length ({limit})")
            self._scanned = len(buf) - pos  # a line arriving in many pieces is searched once
            return -1
        self._scanned = 0
        end = stop - 1 if stop > pos and buf[stop - 1] == 13 else stop
        raw = bytes(buf[pos:end])
        parse = parse_request_line if self._request else parse_response_line
        line = parse(raw, parse_unknown=self._parse_unknown)
        if line is None:
            raise ProtocolError(f"not a memcache {'command' if self._request else 'reply'}: {raw[:40]!r}")
        if line.unknown:
            self._count("unknown_commands")
        self._take_line(line, stop + 1 - pos, out)
        return stop + 1

    def _take_line(self, line: TextLine, size: int, out: list[McMessage]) -> None:
        builder = self._builder
        merging = self._merging
        if merging is not None and not (line.command == merging.command or line.command == "END"):
            raise ProtocolError(f"{line.command} inside a multi-line {merging.command} reply")
        for key in line.keys:
            builder.add_key(key, self._limits)
        if line.stat is not None:
            builder.add_stat(*line.stat, self._limits)
        if line.note:
            builder.notes.append(line.note)
        if line.data_length is not None and line.note is None:
            builder.fields.update(line.fields)
            self._line = line
            self._data_left = line.data_length
            builder.start_value(line.data_length, self._limits)
            self._state = _State.TEXT_DATA
            return
        if line.command in ("VALUE", "STAT") or (merging is not None and line.command != "END"):
            self._merging = merging or line
            builder.fields.update(line.fields)
            self._state = _State.TEXT_LINE
            return
        if merging is not None:  # END closes the merged reply
            line = merging
        else:
            builder.fields.update(line.fields)
        self._emit(line, size, out, with_data=merging is not None and merging.command == "VALUE")

    def _text_data(self, buf: bytearray, pos: int, out: list[McMessage]) -> int:
        if self._data_left:
            take = min(self._data_left, len(buf) - pos)
            self._builder.value_data(memoryview(buf)[pos:pos + take])
            self._data_left -= take
            return pos + take
        if len(buf) - pos < 2:
            return -1
        if buf[pos] != 13 or buf[pos + 1] != 10:
            raise ProtocolError("data block not followed by CRLF")
        self._builder.end_value()
        line = self._line
        assert line is not None
        self._line = None
        if line.command == "VALUE":
            self._merging = self._merging or line
            self._state = _State.TEXT_LINE
        else:
            self._emit(line, 2, out, with_data=True)
        return pos + 2

    def _binary_head(self, buf: bytearray, pos: int, out: list[McMessage]) -> int:
        if len(buf) - pos < HEADER.size:
            return -1
        head = HEADER.unpack_from(buf, pos)
        magic, opcode, key_length, extras_length, _, _, body_length, _, _ = head
        if magic != (REQUEST_MAGIC if self._request else RESPONSE_MAGIC):
            raise ProtocolError(f"binary magic 0x{magic:02x} in the wrong direction")
        if key_length + extras_length > body_length:
            raise ProtocolError("binary key and extras longer than the body")
        if self._binary_stats and opcode != _STAT:
            raise ProtocolError("binary reply inside a Stat sequence")
        fixed = HEADER.size + extras_length + key_length
        if len(buf) - pos < fixed:
            return -1  # at most 24 + 255 + 65535 bytes
        self._head = head
        self._command = command = c.BINARY_COMMANDS.get(opcode, c.UNKNOWN_BINARY)
        builder = self._builder
        extras = bytes(buf[pos + HEADER.size:pos + HEADER.size + extras_length])
        if self._request:
            self._request_extras(command, extras)
        elif extras_length >= 4 and command.type == c.LOAD:
            builder.fields["flags"] = _U32.unpack_from(extras)[0]
        key = bytes(buf[pos + HEADER.size + extras_length:pos + fixed])
        self._key = key
        if key and not self._parses_value(command):
            builder.add_key(key, self._limits)
        self._data_left = body_length - extras_length - key_length
        self._has_value = self._data_left > 0
        if self._has_value and not self._parses_value(command):
            builder.start_value(self._data_left, self._limits)
        self._binary_value = bytearray()
        if not self._data_left:
            self._finish_binary(fixed, out)
        else:
            self._state = _State.BINARY_VALUE
        return pos + fixed

    def _parses_value(self, command: c.BinaryCommand) -> bool:
        return not self._request and command.command in _PARSED_VALUES

    def _request_extras(self, command: c.BinaryCommand, extras: bytes) -> None:
        offset = 0
        for name in command.extras:
            width = 8 if name in ("delta", "initial") else 4
            if offset + width > len(extras):
                if extras or name != "exptime":
                    self._builder.notes.append(f"binary extras too short for {name}")
                return
            unpack = _U64 if width == 8 else _U32
            self._builder.fields[name] = unpack.unpack_from(extras, offset)[0]
            offset += width

    def _binary_body(self, buf: bytearray, pos: int, out: list[McMessage]) -> int:
        take = min(self._data_left, len(buf) - pos)
        if self._parses_value(self._command):
            room = self._limits.max_message_size - len(self._binary_value)
            if room > 0:
                self._binary_value += buf[pos:pos + min(take, room)]
        else:
            self._builder.value_data(memoryview(buf)[pos:pos + take])
        self._data_left -= take
        if not self._data_left:
            self._finish_binary(take, out)
        return pos + take

    def _finish_binary(self, last_step: int, out: list[McMessage]) -> None:
        _, opcode, _, _, _, word, _, opaque, cas = self._head
        command = self._command
        builder = self._builder
        value = bytes(self._binary_value)
        builder.fields.update(opcode=opcode, opaque=opaque)
        if cas:
            builder.fields["cas_unique"] = cas
        if self._request:
            builder.fields.update(vbucket=word, quiet=opcode in c.QUIET_OPCODES)
        else:
            builder.fields["status"] = word
        with_data = False
        if not self._parses_value(command):
            if self._has_value:
                builder.end_value()
                with_data = True
        elif command.command in ("incr", "decr"):
            if len(value) == 8:
                builder.fields["value"] = _U64.unpack(value)[0]
        elif command.command == "version":
            if value:
                builder.fields["version"] = value
        elif self._key:  # one Stat reply of a sequence: the sequence ends with a reply without a key
            builder.add_stat(self._key, value, self._limits)
            self._binary_stats = True
            self._state = _State.START
            return
        self._binary_stats = False
        self._emit(TextLine(command.command, command.type), last_step, out, with_data=with_data, binary=True)

    def _emit(self, line: TextLine, last_step: int, out: list[McMessage], *, with_data: bool,
              binary: bool = False) -> None:
        assert self._ts is not None
        builder = self._builder
        if line.data_length is not None and line.command != "VALUE":
            with_data = True
        message = builder.build(self._ts, self._size + last_step, is_request=self._request, binary=binary,
                                command=line.command, kind=line.type, with_data=with_data)
        if builder.truncated:
            self._count("messages_truncated")
        out.append(message)
        self._builder = Builder()
        self._merging = None
        self._binary_stats = False
        self._ts = None
        self._size = -last_step  # receive_data adds the last step's bytes after this returns
        self._state = _State.START


_STEPS = {
    _State.START: McStreamParser._start,
    _State.TEXT_LINE: McStreamParser._text_line,
    _State.TEXT_DATA: McStreamParser._text_data,
    _State.BINARY_HEAD: McStreamParser._binary_head,
    _State.BINARY_VALUE: McStreamParser._binary_body,
}
