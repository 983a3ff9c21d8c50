"""200,000 seeded inputs through the TLS parser and event builder: only ProtocolError may escape.

Inputs are mutations of valid flights (client and server, TLS 1.2 and 1.3, certificates) and random
record-shaped bytes, fed in random splits; every message produced goes through the correlator and the
event builder too, so a bug in extension or certificate decoding shows here.
"""

from __future__ import annotations

import random
import time

import pytest
from packetshipper.modules.tls.correlator import TlsCorrelator
from packetshipper.modules.tls.event import EventOptions, tls_event_fields
from packetshipper.modules.tls.parser import TlsStreamParser
from packetshipper.protocol import Direction, ProtocolError

from tests.test_tls_event_fields import CONNECTION
from tests.test_tls_parser import CLIENT_FLIGHT, TLS12_SERVER_FLIGHT, client_hello_body, handshake, record

INPUTS = 200_000
SEEDS = [CLIENT_FLIGHT, TLS12_SERVER_FLIGHT, record(22, handshake(1, client_hello_body(ticket=b"t" * 40))),
         record(22, handshake(1, client_hello_body(sni=None, alpn=(), versions=())))]
OPTIONS = EventOptions(include_raw_certificates=True, fingerprints=("md5", "sha1", "sha256"))


def mutate(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.1:
        return bytes([rng.choice((20, 21, 22, 23))]) + b"\x03\x03" + rng.randbytes(rng.randrange(0, 60))
    data = bytearray(rng.choice(SEEDS))
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data))
        kind = rng.random()
        if kind < 0.5:
            data[at] = rng.randrange(256)
        elif kind < 0.75:
            del data[at:at + rng.randrange(1, 8)]
        else:
            data[at:at] = rng.randbytes(rng.randrange(1, 8))
    return bytes(data)


@pytest.mark.slow
def test_fuzz_200000_inputs() -> None:
    rng = random.Random(20261201)
    started = time.monotonic()
    errors = events = 0
    for _ in range(INPUTS):
        data = mutate(rng)
        parser = TlsStreamParser()
        correlator = TlsCorrelator(CONNECTION, lambda name: None)
        cut = rng.randrange(len(data) + 1)
        try:
            messages = parser.receive_data(data[:cut], 1.0) + parser.receive_data(data[cut:], 2.0)
        except ProtocolError:
            errors += 1
            continue
        direction = Direction.REQUEST if rng.random() < 0.5 else Direction.RESPONSE
        for message in messages:
            correlator.on_message(direction, message, 2.0)
        for txn in correlator.close(3.0):
            tls_event_fields(txn, OPTIONS, lambda name: None)
            events += 1
    assert errors > 1000 and events > 1000  # both paths were exercised
    assert time.monotonic() - started < 60  # the bound for this test
