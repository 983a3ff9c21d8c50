"""Sans-IO DNS parsing: one message from bytes (UDP), and a TCP stream of length-prefixed messages."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from packetshipper import hotpath
from packetshipper.protocol import StreamParser

from .codes import TYPE_OPT
from .edns import decode_opt
from .messages import DnsMessage, Edns, Header, Question, Record
from .names import read_name
from .rdata import decode_rdata
from .wire import DnsProtocolError, WireCursor

__all__ = ["parse_message", "read_message", "note_anomalies", "DnsStreamParser", "HEADER", "TCP_PREFIX"]

HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_QUESTION_TAIL = struct.Struct("!HH")  # type, class
_RECORD_TAIL = struct.Struct("!HHIH")  # type, class, ttl, rdlength
TCP_PREFIX = 2
_compiled_parse: Any = getattr(hotpath.compiled, "dns_parse", None)


def parse_message(data: bytes, ts: float, wire_length: int | None = None) -> DnsMessage:
    """Parse one whole DNS message. Raises `DnsProtocolError` if `data` is not one."""
    if _compiled_parse is not None and hotpath.enabled:
        # The compiled twin takes the common shape (plain names, A/AAAA answers) and gives the same message;
        # None for anything else, which `read_message` parses.
        message: DnsMessage | None = _compiled_parse(data, ts, wire_length, Header, Question, Record, DnsMessage)
        if message is not None:
            return message
    return read_message(data, ts, wire_length)


def read_message(data: bytes, ts: float, wire_length: int | None = None) -> DnsMessage:
    """parse_message's reference: every message, through the bounded cursor."""
    cur = WireCursor(data)
    if len(data) >= HEADER.size:  # as cur.unpack, one call fewer
        ident, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
        cur.pos = HEADER.size
    else:
        cur.unpack(HEADER, "header")  # raises, naming the header
    header = Header(  # positional: this runs twice per transaction, and keywords cost a third more
        ident,
        bool(flags & 0x8000),  # response (QR)
        (flags >> 11) & 0xF,  # opcode
        bool(flags & 0x0400),  # authoritative
        bool(flags & 0x0200),  # truncated
        bool(flags & 0x0100),  # recursion_desired
        bool(flags & 0x0080),  # recursion_available
        bool(flags & 0x0020),  # authentic_data
        bool(flags & 0x0010),  # checking_disabled
        flags & 0xF,  # rcode
        qdcount,
        ancount,
        nscount,
        arcount,
    )
    questions = []
    first: str | None = None  # the first question's name when a pointer to offset 12 may stand for it
    for index in range(qdcount):
        # Reads name the part they read; its place in the message is added only when one fails.
        try:
            name = read_name(cur, "name")
            if not index and cur.pos - HEADER.size == len(name) + 1 and "\\" not in name:
                first = name  # no escapes and wire length = text length + 1: read without a pointer
            qtype, qclass = cur.unpack(_QUESTION_TAIL, "type and class")
        except DnsProtocolError as error:
            raise DnsProtocolError(f"question {index} {error}") from None
        questions.append(Question(name, qtype, qclass))
    answers = _records(cur, ancount, "answer", first) if ancount else ()
    authorities = _records(cur, nscount, "authority", first) if nscount else ()
    additionals: list[Record] = []
    edns: Edns | None = None
    for index in range(arcount):
        name, rtype, rclass, ttl, rdata = _read_record(cur, "additional", index, first)
        if rtype == TYPE_OPT:
            if edns is None:  # RFC 6891 6.1.1: a second OPT makes the message malformed; keep the first
                edns = decode_opt(rclass, ttl, rdata)
            continue
        additionals.append(_record(name, rtype, rclass, ttl, rdata))
    return DnsMessage(
        header,
        tuple(questions),
        answers,
        authorities,
        tuple(additionals),
        edns,
        ts,
        len(data) if wire_length is None else wire_length,
        cur.remaining,  # trailing
    )


def note_anomalies(message: DnsMessage, count: Callable[[str, int], None]) -> None:
    """Count what a message carried that the event will not show."""
    if message.trailing:
        count("trailing_bytes", message.trailing)
    malformed = message.malformed_records
    if malformed:
        count("malformed_records", malformed)


def _records(cur: WireCursor, count: int, section: str, first: str | None) -> tuple[Record, ...]:
    records = []
    for index in range(count):  # a loop, not a generator of `_record` calls: two frames fewer per record
        name, rtype, rclass, ttl, rdata = _read_record(cur, section, index, first)
        data, details, address, malformed = decode_rdata(rtype, rdata)
        records.append(Record(name, rtype, rclass, ttl, data, details, address, malformed))
    return tuple(records)


def _read_record(cur: WireCursor, section: str, index: int,
                 first: str | None = None) -> tuple[str, int, int, int, WireCursor]:
    """A resource record's owner name, type, class, TTL and RDATA; the error names its section and index.

    `first`: the first question's name, read from offset 12 without a pointer. An owner name that is just
    a pointer to offset 12 (most answers) is then that name: what `read_name` would give, one pointer on.
    """
    try:
        pos = cur.pos
        if first is not None and pos + 1 < cur.end and cur.data[pos] == 0xC0 and cur.data[pos + 1] == HEADER.size:
            name = first
            cur.pos = pos + 2
        else:
            name = read_name(cur, "name")
        rtype, rclass, ttl, rdlength = cur.unpack(_RECORD_TAIL, "fields")
        return name, rtype, rclass, ttl, cur.sub(rdlength, "rdata")
    except DnsProtocolError as error:
        raise DnsProtocolError(f"{section} {index} {error}") from None


def _record(name: str, rtype: int, rclass: int, ttl: int, rdata: WireCursor) -> Record:
    data, details, address, malformed = decode_rdata(rtype, rdata)
    return Record(name, rtype, rclass, ttl, data, details, address, malformed)


class DnsStreamParser(StreamParser):
    """One direction of DNS over TCP (RFC 1035 4.2.2, RFC 7766): a 2-byte length, then the message.

    At most one incomplete message is buffered, and messages longer than `max_message_size` are
    refused. If a bad message follows good ones in the same segment, the good ones are returned and
    the error is raised on the next call.
    """

    def __init__(self, max_message_size: int = 65535, count: Callable[[str, int], None] | None = None) -> None:
        self.max_message_size = max_message_size
        self._count = count
        self._buffer = bytearray()
        self._first_ts = 0.0  # arrival of the first buffered byte
        self._deferred: DnsProtocolError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        buffer = self._buffer
        if not buffer:
            self._first_ts = ts
        buffer += data
        messages: list[Any] = []
        try:
            while len(buffer) >= TCP_PREFIX:
                length = (buffer[0] << 8) | buffer[1]
                if length < HEADER.size:
                    raise DnsProtocolError(f"TCP message length {length} is shorter than a DNS header")
                if length > self.max_message_size:
                    if self._count is not None:
                        self._count("messages_too_large", 1)
                    raise DnsProtocolError(
                        f"TCP message length {length} is over max_message_size {self.max_message_size}"
                    )
                end = TCP_PREFIX + length
                if len(buffer) < end:
                    break
                message = parse_message(bytes(buffer[TCP_PREFIX:end]), self._first_ts, end)
                if self._count is not None:
                    note_anomalies(message, self._count)
                messages.append(message)
                del buffer[:end]
                self._first_ts = ts
        except DnsProtocolError as error:
            buffer.clear()
            if not messages:
                raise
            self._deferred = error
        return messages

    def receive_eof(self, ts: float) -> list[Any]:
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        if self._buffer:
            left = len(self._buffer)
            self._buffer.clear()
            raise DnsProtocolError(f"stream ended inside a message ({left} bytes buffered)")
        return []
