"""200,000 fuzzed inputs through the memcache reader (TCP streams and UDP datagrams), the correlators
and the event builder: only ProtocolError may escape, buffers stay within their limits, and sampled
events fit the schema. A seeded mutation fuzzer over a corpus of valid text and binary messages."""

from __future__ import annotations

import random
from typing import Any

import memcache_wire as w
import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.memcache import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

INPUTS = 200_000
TCP = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
UDP = Connection("udp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
LINE_LIMIT = 256

REQUESTS = [
    w.store("set", "k1", b"hello"), w.store("cas", "k", b"v" * 300, cas=5, noreply=True), w.line("get a b c"),
    w.line("incr cnt 5"), w.line("delete k noreply"), w.line("stats items"), w.line("slabs reassign 1 2"),
    w.line("lru_crawler crawl all"), w.line("quit"), w.line("mg k v k q Oab"), b"ms k 3 T0 q\r\nabc\r\n",
    w.line("mn"), w.binary(w.SET, key=b"k", extras=w.set_extras(1, 2),
                                                              body=b"data", opaque=7),
    w.binary(w.GETKQ, key=b"x", opaque=8), w.binary(w.NOOP, opaque=9), w.binary(0x15, key=b"c",
                                                                               extras=w.counter_extras(1)),
]
REPLIES = [
    w.line("STORED"), w.line("CLIENT_ERROR bad data chunk"), w.value("a", b"1", cas=3) + w.line("END"),
    w.line("STAT pid 1") + w.line("END"), w.line("42"), b"VA 2 kk Oab\r\nhi\r\n", w.line("HD c5"), w.line("MN"), w.line("VERSION 1.6.18"), w.line("END"),
    w.binary(w.GETK, request=False, key=b"k", extras=b"\0\0\0\1", body=b"val", opaque=7),
    w.binary(w.STAT, request=False, key=b"pid", body=b"1") + w.binary(w.STAT, request=False),
    w.binary(w.INCREMENT, request=False, body=(3).to_bytes(8, "big")), w.binary(w.GET, request=False, status=1),
]
SPECIAL = [b"\r\n", b"\n", b" ", b"\x80", b"\x81", b"\xff\xff\xff\xff", b"noreply", b"END\r\n", b"VALUE k 0 ",
           b"99999999999", b"-1", b"\x00" * 8]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[pos % len(buf)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif op == 2:
            del buf[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            buf[pos:pos] = rng.choice(REQUESTS + REPLIES)
        elif op == 4:
            buf = buf[:pos]
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    memcache = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {
        "type": "memcache", "max_line_length": LINE_LIMIT, "max_message_size": 1024, "maxvalues": 2,
        "maxbytespervalue": 16, "queue_max_messages": 4, "parseunknown": True}))
    rng = random.Random(11)
    errors = messages = 0
    for i in range(INPUTS):
        request = rng.random() < 0.5
        corpus = REQUESTS if request else REPLIES
        data = mutate(rng, b"".join(rng.choice(corpus) for _ in range(rng.randint(1, 3))))
        direction = Direction.REQUEST if request ^ (rng.random() < 0.1) else Direction.RESPONSE
        out: list[Any] = []
        udp = i % 4 == 0
        conn = UDP if udp else TCP
        correlator = memcache.correlator(conn)
        txns: list[Any] = []
        try:
            if udp:
                header = w.UDP.pack(rng.randrange(3), rng.randrange(3), rng.randrange(1, 4), 0)
                datagram = mutate(rng, header) + data if rng.random() < 0.2 else header + data
                for fragment in memcache.parse_datagram(datagram, float(i), direction, conn):
                    txns += correlator.on_message(direction, fragment, float(i))
            else:
                parser = memcache.stream_parser(direction, conn)
                pos = 0
                while pos < len(data):
                    step = rng.randint(1, 64)
                    out += parser.receive_data(data[pos:pos + step], float(i))
                    assert len(parser._buf) <= LINE_LIMIT + 24 + 255 + 65535 + 64
                    pos += step
                parser.receive_eof(float(i))
        except ProtocolError:
            errors += 1
        for message in out:
            assert message.kept <= 1024 + 64 + 16 * 2
            messages += 1
            txns += correlator.on_message(direction, message, float(i))
        if i % 50 == 0:
            for txn in txns + correlator.close(float(i)):
                assert validate_event(transaction_event("memcache", txn, memcache.event_fields(txn))) == []
    assert errors > INPUTS // 10 and messages > INPUTS // 4
