"""Detection by content: a memcache text command or binary request (TCP, or UDP after the 8-byte frame header)."""

from __future__ import annotations

import re
import struct

from packetshipper.protocol import Direction, Verdict

__all__ = ["probe"]

_COMMANDS = frozenset(b"get gets gat gats set add replace append prepend cas delete incr decr touch stats version "
                      b"flush_all verbosity quit mg ms md ma mn me".split())
_TEXT = re.compile(rb"([a-z_]{2,9})(?: [\x21-\x7e][\x20-\x7e]*)?\r\n")
_REPLIES = (b"VALUE ", b"END\r\n", b"STORED\r\n", b"NOT_STORED\r\n", b"EXISTS\r\n", b"NOT_FOUND\r\n",
            b"DELETED\r\n", b"TOUCHED\r\n", b"ERROR\r\n", b"CLIENT_ERROR ", b"SERVER_ERROR ", b"VERSION ", b"STAT ",
            b"OK\r\n")
_BINARY = struct.Struct("!BBHBBHII")  # magic, opcode, key length, extras length, data type, vbucket/status, body, ...
_UDP_FRAME = struct.Struct("!HHHH")  # request id, sequence number, datagrams in the message, reserved


def probe(data: bytes, direction: Direction, transport: str = "tcp") -> Verdict:
    if transport == "udp":
        if len(data) < 9:
            return Verdict.NO
        _, seq, total, _ = _UDP_FRAME.unpack_from(data)  # "reserved" is not always 0 on the wire
        if total == 0 or seq >= total:
            return Verdict.NO
        verdict = _message(data[8:], direction)
        return Verdict.NO if verdict is Verdict.NEED_MORE and seq == total - 1 else verdict
    return _message(data, direction)


def _message(data: bytes, direction: Direction) -> Verdict:
    magic = 0x80 if direction == Direction.REQUEST else 0x81
    if data[:1] == bytes((magic,)):
        if len(data) < 24:
            return Verdict.NEED_MORE
        _, opcode, key_length, extras, data_type, _, body, _ = _BINARY.unpack_from(data)
        ok = opcode <= 0x48 and data_type == 0 and key_length + extras <= body <= 1 << 20
        return Verdict.YES if ok else Verdict.NO
    end = data.find(b"\r\n")
    if direction == Direction.RESPONSE:
        if end < 0:
            return Verdict.NEED_MORE if any(data.startswith(r) or r.startswith(data) for r in _REPLIES) else Verdict.NO
        return Verdict.YES if data.startswith(_REPLIES) else Verdict.NO
    if end < 0:
        word = data.split(b" ", 1)[0]
        plausible = len(data) <= 1024 and (any(c.startswith(word) for c in _COMMANDS) if b" " not in data
                                           else word in _COMMANDS)
        return Verdict.NEED_MORE if plausible else Verdict.NO
    line = _TEXT.fullmatch(data[: end + 2])
    return Verdict.YES if line is not None and line.group(1) in _COMMANDS else Verdict.NO
