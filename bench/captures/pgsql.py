"""PostgreSQL over TCP: connections of 10 statements each after a startup and login (SELECTs of 5 rows,
INSERT, UPDATE, an extended-protocol SELECT, a syntax error), each request in its segment and its
result in the next, with handshake and FIN."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "pgsql"}]
SERVER = "192.0.2.54"
PER_CONNECTION = 10


def _msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def _row(*values: str) -> bytes:
    return _msg(b"D", struct.pack("!h", len(values)) + b"".join(struct.pack("!i", len(v)) + v.encode() for v in values))


READY = _msg(b"Z", b"I")
STARTUP = (lambda body: struct.pack("!I", len(body) + 4) + body)(
    struct.pack("!I", 196608) + _cstr("user") + _cstr("app") + _cstr("database") + _cstr("shop") + b"\x00")
LOGIN_OK = _msg(b"R", struct.pack("!i", 0)) + _msg(b"S", _cstr("server_version") + _cstr("15.5")) + READY
COLUMNS = _msg(b"T", struct.pack("!h", 2) + b"".join(_cstr(n) + struct.pack("!ihihih", 0, 1, 25, -1, -1, 0)
                                                       for n in ("id", "name")))


def _exchange(i: int) -> tuple[bytes, bytes]:
    kind = i % PER_CONNECTION
    if kind in (0, 3, 6):
        rows = b"".join(_row(str(i + j), f"customer {i + j}") for j in range(5))
        return _msg(b"Q", _cstr(f"SELECT id, name FROM customers WHERE region = {i % 50} LIMIT 5")), (
            COLUMNS + rows + _msg(b"C", _cstr("SELECT 5")) + READY)
    if kind in (1, 4):
        return _msg(b"Q", _cstr(f"INSERT INTO orders (customer, total) VALUES ({i}, 12.50)")), (
            _msg(b"C", _cstr("INSERT 0 1")) + READY)
    if kind in (2, 7):
        return _msg(b"Q", _cstr(f"UPDATE stock SET count = count - 1 WHERE item = {i % 997}")), (
            _msg(b"C", _cstr("UPDATE 1")) + READY)
    if kind in (5, 8):
        param = str(i).encode()
        request = (_msg(b"P", _cstr("") + _cstr("SELECT id, name FROM customers WHERE id = $1") + b"\x00\x00")
                   + _msg(b"B", _cstr("") + _cstr("") + b"\x00\x00\x00\x01" + struct.pack("!i", len(param)) + param
                          + b"\x00\x00")
                   + _msg(b"D", b"P\x00") + _msg(b"E", _cstr("") + struct.pack("!i", 0)) + _msg(b"S"))
        return request, (_msg(b"1") + _msg(b"2") + COLUMNS + _row(str(i), f"customer {i}")
                         + _msg(b"C", _cstr("SELECT 1")) + READY)
    error = b"SERROR\x00VERROR\x00C42601\x00Msyntax error at or near \"SELEC\"\x00\x00"
    return _msg(b"Q", _cstr("SELEC 1")), _msg(b"E", error) + READY


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.54.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 5432, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 5432, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 5432, seq=cseq, ack=sseq)
        ts += 0.0003
        exchanges = [(STARTUP, LOGIN_OK)] + [_exchange(conn * PER_CONNECTION + n) for n in
                                             range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION))]
        for request, reply in exchanges:
            yield ts, tcp_frame(client, SERVER, sport, 5432, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 5432, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 5432, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 5432, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
