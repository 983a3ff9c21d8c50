"""200,000 fuzzed inputs through the RESP reader, the correlator and the event builder: only
ProtocolError may escape, every buffer stays within its limit, and sampled events fit the schema.

A seeded mutation fuzzer over a corpus of valid commands and replies (RESP2, RESP3, inline), each input
fed in random splits to a fresh parser of the direction it came from, or of the other one."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis_wire as w
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.redis import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

INPUTS = 200_000
CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 6379))
LINE_LIMIT, KEPT_LIMIT = 256, 128

COMMANDS = [
    w.command("SET", "key3", "me"), w.command("GET", "key3"), w.command("CONFIG", "GET", "maxmemory"),
    w.command("SUBSCRIBE", "a", "b"), w.command("HELLO", "3"), w.command("LPUSH", "l", "x" * 300),
    w.inline("set foo bar"), w.inline('SET "a b" \'c\\\'d\' "\\x41"'), b"PING\n",
]
REPLIES = [
    w.simple("OK"), w.error("ERR unknown command"), w.integer(-7), w.bulk("hello"), w.NULL_BULK, w.NULL_ARRAY,
    w.array(w.bulk("a"), w.array(w.integer(1), w.NULL_BULK)), w.map_((w.bulk("k"), w.double("1.5"))),
    w.set_(w.boolean(True)), w.push(w.bulk("message"), w.bulk("ch"), w.bulk("hi")), w.NULL,
    w.attribute([(w.bulk("ttl"), w.integer(1))], w.bignum("123456789012345678901234567890")),
    w.verbatim("txt", "Some string"), w.bulk_error("SYNTAX bad"), w.streamed_string(b"ab", b"cd"),
    w.streamed_array(w.integer(1), w.simple("x")), w.array(w.bulk("subscribe"), w.bulk("a"), w.integer(1)),
    w.bulk("v" * 500),
]
SPECIAL = [b"\r\n", b"\r", b"\n", b"*", b"$", b"-1", b"?", b"%", b">", b"|", b".", b";0", b"999999999999", b" ",
           b'"', b"'", b"\\x"]


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
            buf[pos:pos] = rng.choice(COMMANDS + REPLIES)
        elif op == 4:
            buf = buf[:pos]
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    redis = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {
        "type": "redis", "max_line_length": LINE_LIMIT, "max_message_size": KEPT_LIMIT, "include_pushes": True,
        "send_request": True, "send_response": True, "queue_max_messages": 4}))
    rng = random.Random(8)
    errors = messages = 0
    for i in range(INPUTS):
        request = rng.random() < 0.5
        corpus = COMMANDS if request else REPLIES
        if rng.random() < 0.2:
            request = not request
        data = mutate(rng, b"".join(rng.choice(corpus) for _ in range(rng.randint(1, 3))))
        direction = Direction.REQUEST if request else Direction.RESPONSE
        parser = redis.stream_parser(direction, CONN)
        correlator = redis.correlator(CONN)
        out: list[Any] = []
        try:
            pos = 0
            while pos < len(data):
                step = rng.randint(1, 64)
                out += parser.receive_data(data[pos:pos + step], float(i))
                assert len(parser._buf) <= LINE_LIMIT + 64 + 2
                pos += step
            parser.receive_eof(float(i))
        except ProtocolError:
            errors += 1
        for message in out:
            assert message.kept <= KEPT_LIMIT + 2
            messages += 1
            txns = correlator.on_message(direction, message, float(i))
            if i % 50 == 0:
                for txn in txns + correlator.close(float(i)):
                    assert validate_event(transaction_event("redis", txn, redis.event_fields(txn))) == []
    # The corpus is mostly valid and the mutations mostly not: both outcomes occur in quantity.
    assert errors > INPUTS // 10 and messages > INPUTS // 2
