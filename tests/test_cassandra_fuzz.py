"""200,000 fuzzed inputs through the cassandra parser (legacy frames and v5 segments), the correlator and
the event builder: only ProtocolError may escape, buffers stay within max_message_size, and sampled
events fit the schema. A seeded mutation fuzzer over a corpus of valid frames."""

from __future__ import annotations

import random
import zlib

import cassandra_wire as w
import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.cassandra import MODULE
from packetshipper.modules.cassandra.segments import crc24
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

INPUTS = 200_000
CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 9042))
LIMIT = 4096


def segment(payload: bytes) -> bytes:
    header = len(payload) | 1 << 17
    return (header.to_bytes(3, "little") + crc24(header, 3).to_bytes(3, "little") + payload
            + zlib.crc32(payload, zlib.crc32(b"\xfa\x2d\x55\xca")).to_bytes(4, "little"))


REQUESTS = [
    w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"})), w.frame("OPTIONS", stream=1),
    w.frame("QUERY", w.query_body("SELECT * FROM t"), stream=2), w.frame("PREPARE", w.long_string("X"), stream=3),
    w.frame("EXECUTE", w.short_bytes(b"\x01" * 16) + w.short(1) + b"\0", stream=4),
    w.frame("REGISTER", w.string_list(["SCHEMA_CHANGE"]), stream=5), w.frame("QUERY", w.query_body("q"), flags=1),
    w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0"}), version=5) + segment(
        w.frame("QUERY", w.query_body("v5"), stream=6, version=5)),
]
RESPONSES = [
    w.frame("READY"), w.frame("SUPPORTED", w.string_multimap({"A": ["b"]}), stream=1),
    w.frame("RESULT", w.rows_body("ks", "t", [("a", w.option(w.MAP, w.option(w.INT), w.option(w.LIST,
                                                            w.option(w.VARCHAR))))], [[b"x"]]), stream=2),
    w.frame("RESULT", w.int_(5) + w.string("CREATED") + w.string("TABLE") + w.string("k") + w.string("t"), stream=3),
    w.frame("ERROR", w.error_body(0x1000, "u", w.short(1) + w.int_(1) + w.int_(0)), stream=4),
    w.frame("EVENT", w.string("TOPOLOGY_CHANGE") + w.string("NEW_NODE") + w.inet(b"\1\2\3\4", 1), stream=-1),
    w.frame("RESULT", bytes(16) + w.string_list(["w"]) + w.int_(1), stream=5, flags=0x0A),
    w.frame("READY", version=5) + segment(w.frame("RESULT", w.int_(1), stream=6, version=5)),
]
SPECIAL = [b"\x04", b"\x84", b"\x05", b"\x85", b"\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"\x01"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        pos = rng.randint(0, len(buf))
        if choice < 0.4 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif choice < 0.8:
            del buf[pos:pos + rng.randint(1, 8)]
        else:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 16))
    return bytes(buf)


@pytest.mark.slow
def test_fuzzed_streams() -> None:
    config = validate({**COMMON_SETTINGS, **MODULE.settings},
                      {"type": "cassandra", "max_message_size": LIMIT}, "cassandra")
    module = MODULE(config)
    rng = random.Random(1313)
    events = 0
    for i in range(INPUTS):
        direction = Direction.REQUEST if i % 2 == 0 else Direction.RESPONSE
        corpus = REQUESTS if direction is Direction.REQUEST else RESPONSES
        data = b"".join(rng.choice(corpus) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.9:
            data = mutate(rng, data)
        parser = module.stream_parser(direction, CONN)
        correlator = module.correlator(CONN)
        if direction is Direction.RESPONSE:  # give some responses a request to pair with
            for stream in range(7):
                correlator.on_message(Direction.REQUEST, module.stream_parser(Direction.REQUEST, CONN)
                                      .receive_data(w.frame("OPTIONS", stream=stream), 0.5)[0], 0.5)
        cut = rng.randint(0, len(data))
        try:
            frames = parser.receive_data(data[:cut], 1.0) + parser.receive_data(data[cut:], 1.0)
        except ProtocolError:
            continue
        assert parser._frames.buffered <= LIMIT + 9 and parser._envelopes.buffered <= LIMIT + 9
        txns = []
        for frame in frames:
            txns += correlator.on_message(direction, frame, 1.0)
        txns += correlator.close(2.0)
        for txn in txns:
            fields = module.event_fields(txn)
            events += 1
            if i % 97 == 0:
                assert validate_event(transaction_event("cassandra", txn, fields)) == []
    assert events > INPUTS // 4
