"""200,000 fuzzed inputs through the NFS record reader, correlator and event builder: only
ProtocolError may escape, the kept record head stays within max_message_size, and sampled events fit
the schema. A seeded mutation fuzzer over a corpus of valid calls and replies (v3 and v4)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.nfs import MODULE
from packetshipper.modules.nfs import wire as w
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

INPUTS = 200_000
KEEP = 512
CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 900), Endpoint("192.0.2.2", 2049))
CRED = w.unix_cred("fuzz.example", 1, 2, (3, 4, 5))
CALLS = [
    w.call(1, 3, 3, w.v3_lookup_args(b"f" * 32, "name"), cred=CRED), w.call(2, 3, 0), w.call(3, 3, 7, b"\0" * 900),
    w.call(4, 4, 1, w.compound_args([w.op(53, w.sequence_args()), w.op(22, w.putfh_args(b"fh")),
                                     w.op(26, w.readdir_args()), w.op(9, w.getattr_args(1))], tag="readdir",
                                    minor_version=1), cred=CRED),
    w.call(5, 4, 1, w.compound_args([w.op(24), w.op(15, w.lookup_args("a")), w.op(17, w.getattr_args(1) + w.opaque(b"z")),
                                     w.op(10)])), w.call(6, 3, 1, program=100227),
]
REPLIES = [w.accepted_reply(1, 0, w.v3_status_result(2)), w.accepted_reply(2), w.accepted_reply(3, 4),
           w.denied_reply(4, 0), w.accepted_reply(4, 0, w.compound_result(0, [(53, 0), (22, 0)])),
           w.accepted_reply(6, 0, w.u32(0))]
SPECIAL = [b"\x80\0\0\0", b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\0\0\0\0", b"\0\0\0\x02", b"\0\0\0\x01",
           w.u32(100003), w.u32(10044)]


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
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            buf[pos:pos] = w.record(rng.choice(CALLS + REPLIES))
        elif op == 4:
            buf = buf[:pos]
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings},
                             {"type": "nfs", "max_message_size": KEEP, "max_pending_calls": 4}))
    rng = random.Random(2049)
    errors = messages = 0
    for i in range(INPUTS):
        request = rng.random() < 0.5
        corpus = CALLS if request else REPLIES
        data = mutate(rng, b"".join(w.record(rng.choice(corpus), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))))
        direction = Direction.REQUEST if request else Direction.RESPONSE
        parser = module.stream_parser(direction, CONN)
        correlator = module.correlator(CONN)
        out: list[Any] = []
        try:
            pos = 0
            while pos < len(data):
                step = rng.randint(1, 64)
                out += parser.receive_data(data[pos : pos + step], float(i))
                assert len(parser._record) <= KEEP
                pos += step
            if rng.random() < 0.05:
                out += parser.receive_gap(rng.randint(1, 100), float(i))
            parser.receive_eof(float(i))
        except ProtocolError:
            errors += 1
        txns: list[Any] = []
        for message in out:
            messages += 1
            txns += correlator.on_message(direction, message, float(i))
        if i % 50 == 0:
            for txn in txns + correlator.close(float(i)):
                assert validate_event(transaction_event("nfs", txn, module.event_fields(txn))) == []
    assert errors > INPUTS // 20 and messages > INPUTS // 4
