"""200,000 fuzzed inputs through the SMTP parsers, correlator and event builder: only ProtocolError may
escape, buffers stay within their limits, and sampled events fit the schema. A seeded mutation fuzzer
over a corpus of valid commands, replies and messages."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.protocol import Direction, ProtocolError
from smtp_wire import CONNECTION, EHLO_REPLY, GREETING, cmd, message, module, reply

INPUTS = 200_000
LINE = 256

COMMANDS = [cmd("EHLO c.example"), cmd("HELO c"), cmd("MAIL FROM:<a@x> SIZE=10"), cmd("MAIL FROM:<>"),
            cmd("RCPT TO:<b@y>"), cmd("RCPT TO:<@r:c@y> NOTIFY=NEVER"), cmd("DATA"), cmd("RSET"), cmd("NOOP"),
            cmd("VRFY x"), cmd("QUIT"), cmd("STARTTLS"), cmd("AUTH LOGIN"), cmd("AUTH PLAIN AGEAYg=="), cmd("BDAT 5"),
            b"BDAT 3 LAST\r\nabc", cmd("dXNlcg=="),
            message([("Subject", "=?utf-8?b?w6k=?="), ("Message-ID", "<m@x>")], ".\r\n..x\r\nbody")]
REPLIES = [GREETING, EHLO_REPLY, reply(250, "OK"), reply(354, "go"), reply(550, "no such user"),
           reply(334, "VXNlcm5hbWU6"), reply(235, "ok"), reply(535, "bad"), reply(220, "TLS go"), reply(221, "bye"),
           reply(421, "closing"), reply(554, "refused"), reply(250, "a", "b", "c", "d", "e", "f")]
SPECIAL = [b"\r\n", b"\n", b".\r\n", b"\r\n.\r\n", b"-", b" ", b"\x16\x03\x01", b"\xff", b":", b"<", b">", b"=?"]


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
    smtp = module(max_line_length=LINE, max_header_size=512, max_reply_lines=3, max_pending=4, max_recipients=2,
                  max_commands=5)
    rng = random.Random(25)
    errors = messages = events = 0
    connection = CONNECTION
    correlator = smtp.correlator(connection)
    parsers: dict[Direction, Any] = {}
    for i in range(INPUTS):
        if i % 20 == 0:  # a new session now and then, so state carries over between inputs too
            for txn in correlator.close(float(i)):
                events += 1
                assert validate_event(transaction_event("smtp", txn, smtp.event_fields(txn))) == []
            connection = dataclasses.replace(CONNECTION, connection_id=i)  # a fresh session state too
            correlator = smtp.correlator(connection)
            parsers = {}
        client = rng.random() < 0.5
        corpus = COMMANDS if client else REPLIES
        data = mutate(rng, b"".join(rng.choice(corpus) for _ in range(rng.randint(1, 3))))
        direction = Direction.REQUEST if client else Direction.RESPONSE
        parser = parsers.get(direction) or parsers.setdefault(direction, smtp.stream_parser(direction, connection))
        out: list[Any] = []
        try:
            pos = 0
            while pos < len(data):
                step = rng.randint(1, 64)
                out += parser.receive_data(data[pos:pos + step], float(i))
                assert len(parser._buf) <= LINE + 3
                pos += step
            if rng.random() < 0.02:
                out += parser.receive_gap(rng.randint(1, 100), float(i))
        except ProtocolError:
            errors += 1
            del parsers[direction]
        for m in out:
            messages += 1
            for txn in correlator.on_message(direction, m, float(i)):
                events += 1
                if events % 10 == 0:
                    assert validate_event(transaction_event("smtp", txn, smtp.event_fields(txn))) == []
                assert len(txn.request.accepted) + len(txn.request.rejected) <= 2
                assert len(txn.request.commands) <= 5
        assert len(correlator._pending) <= 4
    assert errors > INPUTS // 200 and messages > INPUTS // 4 and events > INPUTS // 100
