"""200,000 mutated SIP inputs through the datagram reader, the stream reader, the correlator and the
event builder: only ProtocolError escapes, the stream buffer stays within max_message_size, and
sampled events fit the schema. A seeded mutation fuzzer over valid requests and responses."""

from __future__ import annotations

import random
from typing import Any

import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.sip import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate
from test_sip_event_fields import AUTH
from test_sip_parser import SDP, request, response

INPUTS = 200_000
LIMIT = 1024
CID = "1:xDRQZvk3ErEhBDslXv1c6EKI804="
TCP = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 5060), community_id=CID)
UDP = Connection("udp", 4, Endpoint("192.0.2.1", 5060), Endpoint("192.0.2.2", 5060), community_id=CID)
CORPUS = [request(body=SDP), request("ACK"), request("REGISTER", "sip:r.example.com",
                                                       headers=[("CSeq", "7 REGISTER"), ("Authorization", AUTH)]),
          response(100, "Trying"), response(200, "OK", body=SDP), response(486, "Busy Here"), b"\r\n\r\n"]
SPECIAL = [b"\r\n", b"\r\n\r\n", b" ", b":", b";", b"<", b">", b"@", b"\"", b"[", b"]", b"=", b"\xff",
           b"Content-Length: 99999\r\n", b"l: 3\r\n", b"SIP/2.0 ", b"o=\"", b"sip:", b"\t"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[pos % len(buf)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif op == 2:
            del buf[pos:pos + rng.randint(1, 12)]
        elif op == 3:
            buf[pos:pos] = rng.choice(CORPUS)
        else:
            buf = buf[:pos]
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_inputs_raise_only_protocol_error_and_stay_bounded() -> None:
    sip = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip", "max_message_size": LIMIT}))
    rng = random.Random(13)
    errors = messages = 0
    for i in range(INPUTS):
        data = mutate(rng, rng.choice(CORPUS))
        direction = Direction.REQUEST if rng.random() < 0.5 else Direction.RESPONSE
        udp = i % 2 == 0
        conn = UDP if udp else TCP
        out: list[Any] = []
        try:
            if udp:
                out = sip.parse_datagram(data, float(i), direction, conn)
            else:
                parser = sip.stream_parser(direction, conn)
                for pos in range(0, len(data), 97):
                    out += parser.receive_data(data[pos:pos + 97], float(i))
                    assert len(parser._buf) <= LIMIT + 97
        except ProtocolError:
            errors += 1
        correlator = sip.correlator(conn)
        for message in out:
            messages += 1
            for txn in correlator.on_message(direction, message, float(i)):
                event = transaction_event("sip", txn, sip.event_fields(txn))
                if i % 20 == 0:
                    assert validate_event(event) == []
    assert errors > INPUTS // 20 and messages > INPUTS // 4
