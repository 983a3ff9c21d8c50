"""Redis over TCP: connections of 10 commands each (SET, GET, INCR, LRANGE, HGETALL, an error), each
command in its segment and its reply in the next, with handshake and FIN."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "redis"}]
SERVER = "192.0.2.79"
PER_CONNECTION = 10


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def _exchange(i: int) -> tuple[bytes, bytes]:
    key = b"user:%d" % (i % 10_000)
    kind = i % PER_CONNECTION
    if kind in (0, 5):
        return _command(b"SET", key, b"v" * 100), b"+OK\r\n"
    if kind in (1, 6, 8):
        return _command(b"GET", key), _bulk(b"v" * 100)
    if kind == 2:
        return _command(b"INCR", b"counter"), b":%d\r\n" % i
    if kind == 3:
        return _command(b"LRANGE", b"recent", b"0", b"9"), b"*10\r\n" + b"".join(_bulk(b"item%d" % j) for j in range(10))
    if kind == 4:
        return _command(b"HGETALL", key), b"*4\r\n" + _bulk(b"name") + _bulk(b"ada") + _bulk(b"age") + _bulk(b"36")
    return _command(b"LPUSH", key, b"x"), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.79.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 6379, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 6379, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 6379, seq=cseq, ack=sseq)
        ts += 0.0003
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = _exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 6379, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 6379, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 6379, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 6379, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
