"""Thrift (binary protocol, unframed) over TCP: connections of 10 calls each (add, echo_string with a
list and a struct, an exception, a oneway call), each message in its segment, with handshake and FIN."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "thrift"}]
SERVER = "192.0.2.91"
PER_CONNECTION = 10


def _header(name: bytes, kind: int, seqid: int, body: bytes) -> bytes:
    return struct.pack(">I", 0x80010000 | kind) + struct.pack(">i", len(name)) + name + struct.pack(">i", seqid) \
        + body + b"\x00"


def _i32(fid: int, value: int) -> bytes:
    return struct.pack(">bhi", 8, fid, value)


def _string(fid: int, value: bytes) -> bytes:
    return struct.pack(">bhi", 11, fid, len(value)) + value


def _exchange(i: int) -> tuple[bytes, bytes | None]:
    kind = i % PER_CONNECTION
    if kind == 9:
        return _header(b"zip", 4, i, b""), None
    if kind == 8:
        return (_header(b"calculate", 1, i, _i32(1, 1) + b"\x0c\x00\x02" + _i32(1, 1) + _i32(2, 0) + b"\x00"),
                _header(b"calculate", 2, i, b"\x0c\x00\x01" + _i32(1, 4) + _string(2, b"Cannot divide by 0")
                        + b"\x00"))
    if kind in (3, 6):
        items = b"\x0f\x00\x01\x08" + struct.pack(">i", 5) + b"".join(struct.pack(">i", n) for n in range(5))
        return _header(b"echo_list", 1, i, items), _header(b"echo_list", 2, i, items.replace(b"\x00\x01", b"\x00\x00", 1))
    if kind in (1, 4, 7):
        return (_header(b"echo_string", 1, i, _string(1, b"hello %d" % i)),
                _header(b"echo_string", 2, i, _string(0, b"hello %d" % i)))
    return _header(b"add", 1, i, _i32(1, i) + _i32(2, 1)), _header(b"add", 2, i, _i32(0, i + 1))


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.91.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 9090, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 9090, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 9090, seq=cseq, ack=sseq)
        ts += 0.0003
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = _exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 9090, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            if reply is not None:
                yield ts + 0.0001, tcp_frame(SERVER, client, 9090, sport, reply, flags="PA", seq=sseq, ack=cseq)
                sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 9090, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 9090, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
