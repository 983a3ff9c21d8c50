"""Memcache over TCP: connections of 10 exchanges each, alternately in the text protocol (set, get,
multi-get with a miss, incr, delete) and the binary one (Set, GetK, Increment, Delete), each request in
its segment and its reply in the next, with handshake and FIN."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "memcache"}]
SERVER = "192.0.2.112"
PER_CONNECTION = 10
_HEADER = struct.Struct(">BBHBBHIIQ")


def _binary(opcode: int, *, request: bool, key: bytes = b"", extras: bytes = b"", body: bytes = b"",
            opaque: int = 0, status: int = 0) -> bytes:
    return _HEADER.pack(0x80 if request else 0x81, opcode, len(key), len(extras), 0, status,
                        len(extras) + len(key) + len(body), opaque, 1 if not request else 0) + extras + key + body


def _text(i: int) -> tuple[bytes, bytes]:
    key = b"user:%d" % (i % 10_000)
    kind = i % 5
    if kind == 0:
        return b"set %s 0 0 100\r\n%s\r\n" % (key, b"v" * 100), b"STORED\r\n"
    if kind == 1:
        return b"get %s\r\n" % key, b"VALUE %s 0 100\r\n%s\r\nEND\r\n" % (key, b"v" * 100)
    if kind == 2:
        return (b"get %s other:1 %s:x\r\n" % (key, key),
                b"VALUE %s 0 5\r\nhello\r\nVALUE other:1 0 2\r\nhi\r\nEND\r\n" % key)
    if kind == 3:
        return b"incr counter 1\r\n", b"%d\r\n" % i
    return b"delete %s:gone\r\n" % key, b"NOT_FOUND\r\n"


def _bin(i: int) -> tuple[bytes, bytes]:
    key = b"user:%d" % (i % 10_000)
    kind = i % 4
    if kind == 0:
        return (_binary(0x01, request=True, key=key, extras=struct.pack(">II", 0, 0), body=b"v" * 100, opaque=i),
                _binary(0x01, request=False, opaque=i))
    if kind == 1:
        return (_binary(0x0C, request=True, key=key, opaque=i),
                _binary(0x0C, request=False, key=key, extras=b"\0\0\0\0", body=b"v" * 100, opaque=i))
    if kind == 2:
        return (_binary(0x05, request=True, key=b"counter", extras=struct.pack(">QQI", 1, 0, 0), opaque=i),
                _binary(0x05, request=False, body=struct.pack(">Q", i), opaque=i))
    return _binary(0x04, request=True, key=key, opaque=i), _binary(0x04, request=False, opaque=i, status=1,
                                                                    body=b"Not found")


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.112.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 11211, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 11211, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 11211, seq=cseq, ack=sseq)
        ts += 0.0003
        exchange = _text if conn % 2 == 0 else _bin
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 11211, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 11211, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 11211, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 11211, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
