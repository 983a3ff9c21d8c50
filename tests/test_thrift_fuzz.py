"""200,000 fuzzed inputs through the thrift parser (both protocols, both transports), the correlator and
the event builder: only ProtocolError may escape, the buffer stays within max_message_size, and
sampled events fit the schema. A seeded mutation fuzzer over messages written by Apache Thrift."""

from __future__ import annotations

import random

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.thrift import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate
from test_thrift_parser import WIRE, framed

INPUTS = 200_000
LIMIT = 2048
CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 9090))
SPECIAL = [b"\x80\x01", b"\x82\x21", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00", b"\x0c", b"\x0f", b"\x0d"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randint(0, len(buf))
        choice = rng.random()
        if choice < 0.4 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif choice < 0.8:
            del buf[pos:pos + rng.randint(1, 6)]
        else:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 12))
    return bytes(buf)


@pytest.mark.slow
def test_fuzzed_streams() -> None:
    modules = {t: MODULE(validate({**COMMON_SETTINGS, **MODULE.settings},
                                  {"type": "thrift", "transport_type": t, "max_message_size": LIMIT,
                                   "send_request": True, "send_response": True}, "thrift"))
               for t in ("socket", "framed")}
    corpus = {"socket": [bytes.fromhex(WIRE[p][w]) for p in WIRE for w in WIRE[p]],
              "framed": [framed(WIRE[p][w]) for p in WIRE for w in WIRE[p]]}
    rng = random.Random(1313)
    events = 0
    for i in range(INPUTS):
        transport = "framed" if i % 2 else "socket"
        module = modules[transport]
        data = b"".join(rng.choice(corpus[transport]) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.9:
            data = mutate(rng, data)
        parser = module.stream_parser(Direction.REQUEST, CONN)
        correlator = module.correlator(CONN)
        cut = rng.randint(0, len(data))
        try:
            messages = parser.receive_data(data[:cut], 1.0) + parser.receive_data(data[cut:], 1.0)
        except ProtocolError:
            continue
        assert len(parser._buf) <= LIMIT + 4
        txns = []
        for message in messages:
            direction = Direction.REQUEST if message.is_request else Direction.RESPONSE
            txns += correlator.on_message(direction, message, 1.0)
        txns += correlator.close(2.0)
        for txn in txns:
            fields = module.event_fields(txn)
            events += 1
            if i % 97 == 0:
                assert validate_event(transaction_event("thrift", txn, fields)) == []
    assert events > INPUTS // 4
