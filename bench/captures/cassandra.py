"""Cassandra (CQL v4) over TCP: connections of 10 transactions each (STARTUP/READY, then QUERY with
RESULT void, rows, schema change and an ERROR), each frame in its segment, with handshake and FIN."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "cassandra"}]
SERVER = "192.0.2.90"
PER_CONNECTION = 10


def _string(s: bytes) -> bytes:
    return struct.pack(">H", len(s)) + s


def _frame(response: bool, stream: int, opcode: int, body: bytes) -> bytes:
    return struct.pack(">BBhBI", 0x84 if response else 0x04, 0, stream, opcode, len(body)) + body


def _query(text: bytes) -> bytes:
    return struct.pack(">i", len(text)) + text + b"\x00\x01\x00"


ROWS = (struct.pack(">iii", 2, 1, 3) + _string(b"ks") + _string(b"users")
        + b"".join(_string(name) + struct.pack(">H", 0x0D) for name in (b"id", b"fname", b"lname"))
        + struct.pack(">i", 2) + (struct.pack(">i", 4) + b"abcd") * 6)


def _exchange(i: int) -> tuple[bytes, bytes]:
    stream, kind = i % 32768, i % PER_CONNECTION
    if kind == 0:
        return (_frame(False, stream, 0x01, struct.pack(">H", 1) + _string(b"CQL_VERSION") + _string(b"3.0.0")),
                _frame(True, stream, 0x02, b""))
    if kind in (1, 4, 7):
        return (_frame(False, stream, 0x07, _query(b"INSERT INTO users (id, fname) VALUES ('%d', 'x')" % i)),
                _frame(True, stream, 0x08, struct.pack(">i", 1)))
    if kind == 9:
        return (_frame(False, stream, 0x07, _query(b"SELEC oops")),
                _frame(True, stream, 0x00, struct.pack(">i", 0x2000) + _string(b"line 1:0 no viable alternative")))
    if kind == 8:
        return (_frame(False, stream, 0x07, _query(b"CREATE TABLE t%d (k int PRIMARY KEY)" % i)),
                _frame(True, stream, 0x08, struct.pack(">i", 5) + _string(b"CREATED") + _string(b"TABLE")
                       + _string(b"ks") + _string(b"t%d" % i)))
    return (_frame(False, stream, 0x07, _query(b"SELECT * FROM users WHERE id = '%d'" % i)),
            _frame(True, stream, 0x08, ROWS))


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.90.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 9042, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 9042, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 9042, seq=cseq, ack=sseq)
        ts += 0.0003
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = _exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 9042, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 9042, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 9042, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 9042, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
