"""200,000 fuzzed datagrams through the DHCPv4 reader, correlator and event builder: only ProtocolError
may escape, and sampled events fit the schema. A seeded mutation fuzzer over valid messages."""

from __future__ import annotations

import random
import struct

import pytest
from dhcpv4_wire import CLIENT, build, ip, module, option
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.protocol import Direction, ProtocolError

INPUTS = 200_000
CORPUS = [
    build(options=[option(53, b"\x01"), option(55, bytes([1, 3, 6, 42])), option(50, ip("10.0.0.9"))]),
    build(op=2, yiaddr="10.0.0.9", siaddr="10.0.0.1", options=[
        option(53, b"\x02"), option(1, ip("255.255.255.0")), option(3, ip("10.0.0.1")), option(51, b"\0\0\x0e\x10"),
        option(6, ip("10.0.0.2") * 3), option(54, ip("10.0.0.1"))]),
    build(op=2, file=option(12, b"h") + b"\xff", options=[option(52, b"\x01"), option(53, b"\x05")]),
    build(options=[option(124, struct.pack("!IB", 9, 2) + b"ab"), option(60, b"vendor"), option(2, b"\xff" * 4)]),
    build(options=[option(56, b"declined"), option(53, b"\x04")], giaddr="10.9.0.1", hops=3),
]
SPECIAL = [b"\xff", b"\x00", b"\x34\x01\x03", b"\x35\x01", b"\x37\xff", b"\x7c\x05", b"\x63\x82\x53\x63"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randint(min(240, len(buf)), len(buf)) if rng.random() < 0.9 else rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[pos % len(buf)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(SPECIAL)
        elif op == 2:
            del buf[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            buf = buf[:pos]
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(buf)


@pytest.mark.slow
def test_200000_fuzzed_datagrams_raise_only_protocol_error() -> None:
    dhcp = module()
    correlator = dhcp.correlator(CLIENT)
    rng = random.Random(67)
    errors = events = 0
    for i in range(INPUTS):
        data = mutate(rng, rng.choice(CORPUS))
        direction = Direction.REQUEST if i % 2 else Direction.RESPONSE
        try:
            messages = dhcp.parse_datagram(data, float(i), direction, CLIENT)
        except ProtocolError:
            errors += 1
            continue
        for message in messages:
            for txn in correlator.on_message(direction, message, float(i)):
                fields = dhcp.event_fields(txn)
                events += 1
                if i % 20 == 0:
                    assert validate_event(transaction_event("dhcpv4", txn, fields)) == []
    assert errors > INPUTS // 100 and events > INPUTS // 4
