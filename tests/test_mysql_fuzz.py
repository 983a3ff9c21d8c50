"""200,000 fuzzed inputs through the framers, the correlator and the event builder: only ProtocolError
may escape, every buffer and table stays within its limit, and sampled events fit the schema.

A seeded mutation fuzzer over a corpus of valid client and server packets (both EOF dialects, the
connection phase, prepared statements), each input fed in random splits to the side it came from, or
to the other one."""

from __future__ import annotations

import random
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.mysql.wire import Command, FieldType
from packetshipper.protocol import Direction, ProtocolError
from test_mysql_wire import (
    column,
    command,
    eof,
    err,
    execute,
    greeting,
    lenenc_str,
    login,
    module,
    new_connection,
    ok,
    packet,
    prepare,
    prepare_ok,
    query,
    result_set,
    ssl_request,
    text_row,
)

INPUTS = 200_000
KEPT_LIMIT, PENDING_LIMIT, STATEMENTS_LIMIT = 96, 4, 3

CLIENT = [
    query("SELECT a, b FROM t"), query("INSERT INTO t VALUES (1)"), command(Command.PING), command(Command.QUIT),
    command(Command.INIT_DB, b"shop"), command(Command.FIELD_LIST, b"t\x00"), prepare("SELECT ? , ?"),
    execute(1, [(FieldType.VAR_STRING, lenenc_str("x")), (FieldType.LONG, None)]),
    execute(1, [(FieldType.DATETIME, b"\x0b" + bytes(11)), (FieldType.TIME, b"\x08" + bytes(8))]),
    command(Command.STMT_CLOSE, b"\x01\x00\x00\x00"), command(Command.CHANGE_USER, b"bob\x00"),
    login("bob", "shop"), ssl_request(), packet(2, b"1,a\n"), packet(3, b""), command(0x42),
]
SERVER = [
    ok(1, affected=3), err(1, 1064, "42000", "syntax"), greeting(), err(0, 1040, "08004", "Too many connections"),
    result_set(["a", "b"], [["1", None], ["2", "x"]], deprecate_eof=False),
    result_set(["a"], [["1"]], deprecate_eof=True), prepare_ok(1, ["a"], 2, False), prepare_ok(2, [], 1, True),
    packet(1, b"\xfbfile.csv"), packet(2, b"\xfe" + b"caching_sha2_password\x00"), packet(2, b"\x01\x03"),
    column(2, "c", field_type=FieldType.LONGLONG) + eof(3), text_row(4, ["v" * 200]), eof(5, status=0x0A),
    packet(1, b"\x01") + column(2, "n", field_type=FieldType.DOUBLE) + packet(3, b"\x00\x00" + bytes(8)),
    packet(1, b"\x01\x00"), ok(1, header=0xFE), packet(1, b"Uptime: 1"),
]
SPECIAL = [b"\x00", b"\xfb", b"\xfc", b"\xfd", b"\xfe", b"\xff", b"\xff\xff\xff", b"\x00\x00\x00", b"\x01\x00\x00\x00",
           b"\x16\x03\x01", b"#", b"def"]


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
            buf[pos:pos] = rng.choice(CLIENT + SERVER)
        elif op == 4:
            buf = buf[:pos]
        else:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 6))
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    mysql = module(commands=["*"], max_message_size=KEPT_LIMIT, max_pending_requests=PENDING_LIMIT,
                   max_statements=STATEMENTS_LIMIT, max_rows=2, max_row_length=16,
                   send_request=True, send_response=True)
    rng = random.Random(3306)
    checked = 0
    for i in range(INPUTS):
        connection = new_connection()
        parsers = [mysql.stream_parser(d, connection) for d in Direction]
        correlator = mysql.correlator(connection)
        transactions: list[Any] = []
        for _ in range(rng.randint(1, 3)):
            from_client = rng.random() < 0.5
            corpus = CLIENT if from_client else SERVER
            if rng.random() < 0.15:
                from_client = not from_client
            data = b"".join(rng.choice(corpus) for _ in range(rng.randint(1, 3)))
            if rng.random() < 0.6:
                data = mutate(rng, data)
            direction = Direction.REQUEST if from_client else Direction.RESPONSE
            try:
                pos = 0
                while pos < len(data):
                    step = rng.randint(1, max(1, len(data) - pos))
                    for message in parsers[direction].receive_data(data[pos:pos + step], float(i)):
                        transactions += correlator.on_message(direction, message, float(i))
                    pos += step
                if rng.random() < 0.05:
                    for message in parsers[direction].receive_gap(rng.randint(1, 100), float(i)):
                        transactions += correlator.on_message(direction, message, float(i))
            except ProtocolError:
                parsers[direction] = mysql.stream_parser(direction, connection)
            framer = parsers[direction]
            assert framer._kept <= KEPT_LIMIT and len(framer._head) < 4
            assert len(correlator._pending) <= PENDING_LIMIT
            assert len(correlator._statements) <= STATEMENTS_LIMIT
        transactions += correlator.close(float(i))
        if i % 40 == 0:
            for txn in transactions:
                event = transaction_event("mysql", txn, mysql.event_fields(txn))
                assert not validate_event(event), (event, validate_event(event))
                checked += 1
    assert checked > 1000
