"""MySQL over TCP: connections with a handshake (greeting, login, OK) and 10 commands each: SELECTs
with 5-row result sets (classic EOF), INSERT and UPDATE answered by OK, a syntax error, and a prepared
statement executed with bound values; each command in its segment and its answer in the next."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "mysql"}]
SERVER = "192.0.2.33"
PER_CONNECTION = 10


def _packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def _lenenc(value: bytes) -> bytes:
    return bytes([len(value)]) + value


def _ok(seq: int, affected: int = 0) -> bytes:
    return _packet(seq, b"\x00" + bytes([affected]) + b"\x00\x02\x00\x00\x00")


def _eof(seq: int) -> bytes:
    return _packet(seq, b"\xfe\x00\x00\x02\x00")


def _column(seq: int, name: bytes) -> bytes:
    body = b"".join(_lenenc(v) for v in (b"def", b"shop", b"items", b"items", name, name))
    return _packet(seq, body + b"\x0c" + struct.pack("<HIBHB", 45, 255, 0xFD, 0, 0) + b"\x00\x00")


def _result(i: int) -> bytes:
    out = [_packet(1, b"\x03"), _column(2, b"id"), _column(3, b"name"), _column(4, b"price"), _eof(5)]
    for row in range(5):
        out.append(_packet(6 + row, _lenenc(b"%d" % (i + row)) + _lenenc(b"item-%d" % row) + _lenenc(b"9.99")))
    return b"".join(out) + _eof(11)


def _greeting() -> bytes:
    caps = 0x000FF7FF  # protocol 41, secure connection, plugin auth, connect with db, ...
    body = b"\x0a5.7.44-log\x00" + struct.pack("<I", 7) + b"abcdefgh\x00"
    body += struct.pack("<HBHH", caps & 0xFFFF, 45, 2, caps >> 16) + b"\x15" + bytes(10) + b"ijklmnopqrst\x00"
    return _packet(0, body + b"mysql_native_password\x00")


def _login() -> bytes:
    caps = 0x000A_A20D  # protocol 41, secure connection, connect with db, plugin auth, lenenc auth data
    body = struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23) + b"app\x00" + _lenenc(b"\x01" * 20)
    return _packet(1, body + b"shop\x00mysql_native_password\x00")


def _exchange(i: int) -> tuple[bytes, bytes]:
    kind = i % PER_CONNECTION
    if kind in (0, 3, 6):
        return _packet(0, b"\x03SELECT id, name, price FROM items WHERE id > %d LIMIT 5" % i), _result(i)
    if kind in (1, 7):
        return _packet(0, b"\x03INSERT INTO orders (item, qty) VALUES (%d, 1)" % i), _ok(1, 1)
    if kind in (2, 8):
        return _packet(0, b"\x03UPDATE items SET price = price * 1.1 WHERE id = %d" % i), _ok(1, 1)
    if kind == 4:
        return _packet(0, b"\x03SELEC 1"), _packet(1, b"\xff\x28\x04#42000You have an error in your SQL syntax")
    if kind == 5:
        prepare_ok = _packet(1, b"\x00" + struct.pack("<IHHBH", 1, 0, 1, 0, 0)) + _column(2, b"?") + _eof(3)
        return _packet(0, b"\x16DELETE FROM carts WHERE id = ?"), prepare_ok
    params = struct.pack("<IBI", 1, 0, 1) + b"\x00\x01\x03\x00" + struct.pack("<i", i)
    return _packet(0, b"\x17" + params), _ok(1, 1)


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.33.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 3306, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 3306, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 3306, seq=cseq, ack=sseq)
        ts += 0.0003
        for data, from_client in ((_greeting(), False), (_login(), True), (_ok(2), False)):
            if from_client:
                yield ts, tcp_frame(client, SERVER, sport, 3306, data, flags="PA", seq=cseq, ack=sseq)
                cseq += len(data)
            else:
                yield ts, tcp_frame(SERVER, client, 3306, sport, data, flags="PA", seq=sseq, ack=cseq)
                sseq += len(data)
            ts += 0.0001
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = _exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 3306, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 3306, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 3306, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 3306, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
