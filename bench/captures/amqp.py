"""AMQP 0-9-1 over TCP: one connection per 500 transactions, each a queue.declare and its declare-ok
followed by a basic.publish of a small text message (two events per pair of exchanges)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "amqp"}]
_HEADER = b"AMQP\x00\x00\x09\x01"


def _frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, 1, len(payload)) + payload + b"\xce"


def _s(text: str) -> bytes:
    return bytes([len(text)]) + text.encode()


def _declare(name: str) -> bytes:
    return _frame(1, struct.pack(">HHH", 50, 10, 0) + _s(name) + b"\x00" + b"\x00\x00\x00\x00")


def _declare_ok(name: str) -> bytes:
    return _frame(1, struct.pack(">HH", 50, 11) + _s(name) + struct.pack(">II", 0, 0))


def _publish(key: str, body: bytes) -> bytes:
    method = _frame(1, struct.pack(">HHH", 60, 40, 0) + _s("") + _s(key) + b"\x00")
    header = _frame(2, struct.pack(">HHQH", 60, 0, len(body), 1 << 15) + _s("text/plain"))
    return method + header + _frame(3, body)


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    per_connection = 500
    for start in range(0, transactions, per_connection):
        client, sport = f"10.70.{(start >> 16) & 255}.{(start >> 8) & 255}", 20000 + (start // per_connection) % 40000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, "192.0.2.72", sport, 5672, flags="S", seq=cseq - 1)
        yield ts, tcp_frame("192.0.2.72", client, 5672, sport, flags="SA", seq=sseq - 1, ack=cseq)
        first = _HEADER
        for i in range(start, min(start + per_connection, transactions), 2):
            name = f"q{i}"
            request = first + _declare(name)
            first = b""
            yield ts, tcp_frame(client, "192.0.2.72", sport, 5672, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            answer = _declare_ok(name)
            yield ts + 0.0001, tcp_frame("192.0.2.72", client, 5672, sport, answer, flags="PA", seq=sseq, ack=cseq)
            sseq += len(answer)
            message = _publish(name, b"hello %d" % i)
            yield ts + 0.0002, tcp_frame(client, "192.0.2.72", sport, 5672, message, flags="PA", seq=cseq, ack=sseq)
            cseq += len(message)
            ts += 0.001
