"""200,000 mutated AMQP streams through the reader, the correlator and the event builder: only
ProtocolError escapes, the buffer stays within max_frame_size, pending requests within their bound,
and sampled events fit the schema. A seeded mutation fuzzer over spec-built frames."""

from __future__ import annotations

import random
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.amqp import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Direction, ProtocolError
from packetshipper.settings import validate
from test_amqp_correlator import CONN
from test_amqp_parser import (
    PROTOCOL_HEADER,
    channel_close,
    declare_ok,
    deliver,
    frame,
    method,
    publish,
    queue_declare,
)

INPUTS = 200_000
MAX_FRAME = 4096
CORPUS = [queue_declare("q"), queue_declare("w", no_wait=True), declare_ok("q", 1, 2),
          publish("ex", "rk", b"hello", {"content-type": "text/plain", "delivery-mode": 2, "user-id": "u"}),
          deliver(4, "ex", "rk", b"\x00\x01", {"headers": {"a": b"S\x00\x00\x00\x01x", "n": b"I\x00\x00\x00\x07"}}),
          channel_close(404, "NOT_FOUND", 50, 10), method(20, 41, b""), method(60, 80, b"\0" * 8 + b"\1"),
          frame(8, 0, b"")]
SPECIAL = [b"\xce", b"\x00", b"\xff\xff\xff\xff", b"\x01\x00\x01", b"\x02\x00\x01", b"\x03\x00\x01", b"F", b"A"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[pos % len(buf)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif op == 2:
            del buf[pos:pos + rng.randint(1, 6)]
        else:
            buf = buf[:pos]
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    amqp = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {
        "type": "amqp", "max_frame_size": MAX_FRAME, "max_pending_requests": 4, "send_request": True,
        "send_response": True, "hide_connection_information": False}))
    rng = random.Random(17)
    errors = messages = 0
    for i in range(INPUTS):
        direction = Direction.REQUEST if rng.random() < 0.5 else Direction.RESPONSE
        data = b"".join(rng.choice(CORPUS) for _ in range(rng.randint(1, 3)))
        data = mutate(rng, data) if rng.random() < 0.9 else data
        if direction is Direction.REQUEST and rng.random() < 0.5:
            data = PROTOCOL_HEADER + data
        parser = amqp.stream_parser(direction, CONN)
        correlator = amqp.correlator(CONN)
        out: list[Any] = []
        try:
            for pos in range(0, len(data), 61):
                out += parser.receive_data(data[pos:pos + 61], float(i))
                assert len(parser._buf) <= MAX_FRAME + 8 + 61
        except ProtocolError:
            errors += 1
        txns: list[Any] = []
        for message in out:
            messages += 1
            txns += correlator.on_message(direction, message, float(i))
            assert len(correlator.pending) <= 4
        txns += correlator.close(float(i))
        if i % 20 == 0:
            for txn in txns:
                assert validate_event(transaction_event("amqp", txn, amqp.event_fields(txn))) == []
    assert errors > INPUTS // 10 and messages > INPUTS // 4
