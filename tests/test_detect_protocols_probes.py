"""The modules' probes (`ProtocolModule.probe`): each recognises its protocol's first message from the spec,
every prefix of it asks for more (bytes may come one at a time), the other protocols' first messages are
not taken, the probe order keeps greedy probes from stealing, and arbitrary bytes never raise."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.protocol import Direction, ProtocolModule, Verdict
from packetshipper.registry import build_modules
from plugin_example.packets import TcpConversation

REQ, RESP = Direction.REQUEST, Direction.RESPONSE


def _mysql_greeting() -> bytes:
    # MySQL "Protocol::HandshakeV10": protocol 10, version, thread id, auth data, capabilities, charset, status...
    payload = (b"\x0a" + b"8.0.36\x00" + struct.pack("<I", 12) + b"abcdefgh" + b"\x00" + struct.pack("<H", 0xFFFF)
               + b"\xff" + struct.pack("<H", 2) + struct.pack("<H", 0xDFFF) + b"\x15" + b"\x00" * 10
               + b"ijklmnopqrst\x00" + b"caching_sha2_password\x00")
    return struct.pack("<I", len(payload))[:3] + b"\x00" + payload


def _pg_startup() -> bytes:
    body = struct.pack("!I", 196608) + b"user\x00alice\x00database\x00shop\x00\x00"
    return struct.pack("!i", 4 + len(body)) + body


def _mongo_op_msg() -> bytes:
    document = b"\x05\x00\x00\x00\x00"  # the empty BSON document
    body = struct.pack("<I", 0) + b"\x00" + document
    return struct.pack("<iiiI", 16 + len(body), 7, 0, 2013) + body


def _client_hello() -> bytes:
    hello = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
    handshake = b"\x01" + len(hello).to_bytes(3, "big") + hello
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


def _server_hello() -> bytes:
    hello = b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00"
    handshake = b"\x02" + len(hello).to_bytes(3, "big") + hello
    return b"\x16\x03\x03" + len(handshake).to_bytes(2, "big") + handshake


def _memcache_binary_get() -> bytes:
    return struct.pack("!BBHBBHIIQ", 0x80, 0x00, 1, 0, 0, 0, 1, 0, 0) + b"k"


# (module, side, the first bytes that side sends), from each protocol's specification.
FIRST_MESSAGES = [
    ("http", REQ, b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"),
    ("http", REQ, b"POST /api HTTP/1.0\r\nContent-Length: 0\r\n\r\n"),
    ("http", RESP, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("tls", REQ, _client_hello()),
    ("tls", RESP, _server_hello()),
    ("smtp", RESP, b"220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n"),
    ("smtp", REQ, b"EHLO client.example.test\r\n"),
    ("redis", REQ, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
    ("redis", REQ, b"PING\r\n"),
    ("memcache", REQ, b"set k 0 0 1\r\nv\r\n"),
    ("memcache", REQ, b"get k\r\n"),
    ("memcache", REQ, _memcache_binary_get()),
    ("mysql", RESP, _mysql_greeting()),
    ("pgsql", REQ, _pg_startup()),
    ("pgsql", REQ, struct.pack("!iI", 8, 80877103)),  # SSLRequest
    ("mongodb", REQ, _mongo_op_msg()),
    ("amqp", REQ, b"AMQP\x00\x00\x09\x01"),  # the AMQP 0-9-1 protocol header
    ("sip", REQ, b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TCP client.test\r\n\r\n"),
    ("sip", RESP, b"SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n"),
]

MODULE_NAMES = sorted({m for m, _, _ in FIRST_MESSAGES} | {"dhcpv4", "dns"})


@pytest.fixture(scope="module")
def modules() -> dict[str, ProtocolModule]:
    sip = {"transport": "both"}  # its probe answers only for the transport it is configured on
    return {m.name: m for m in build_modules([{"type": name, **(sip if name == "sip" else {})}
                                              for name in MODULE_NAMES])}


@pytest.mark.parametrize(("module", "side", "data"), FIRST_MESSAGES)
def test_a_first_message_is_recognised_and_its_prefixes_ask_for_more(modules: dict[str, ProtocolModule], module: str,
                                                                    side: Direction, data: bytes) -> None:
    probe = modules[module].probe
    assert probe(data, side, "tcp") is Verdict.YES
    assert probe(data + b"trailing bytes", side, "tcp") is Verdict.YES
    verdicts = [probe(data[:n], side, "tcp") for n in range(len(data))]
    assert Verdict.NO not in verdicts, f"prefix of {len(verdicts) - verdicts[::-1].index(Verdict.NO) - 1} bytes refused"


@pytest.mark.parametrize(("module", "side", "data"), FIRST_MESSAGES)
def test_no_other_module_claims_a_first_message_in_the_probe_order(modules: dict[str, ProtocolModule], module: str,
                                                                  side: Direction, data: bytes) -> None:
    ordered = sorted(modules.values(), key=lambda m: m.probe_order)
    claimers = [m.name for m in ordered if "tcp" in m.transports and m.probe(data, side, "tcp") is Verdict.YES]
    assert claimers[0] == module
    # a probe that also says YES comes later in the order (memcache's "get" before Redis' inline GET)
    assert all(modules[other].probe_order > modules[module].probe_order for other in claimers[1:])


def test_what_is_not_a_protocols_start_is_refused(modules: dict[str, ProtocolModule]) -> None:
    cases = [
        ("http", REQ, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),  # HTTP/2: not this parser's
        ("http", REQ, b"get / HTTP/1.1\r\n"),  # methods are case-sensitive
        ("smtp", RESP, b"554 no service here\r\n"),
        ("smtp", REQ, b"USER anonymous\r\n"),
        ("tls", REQ, b"\x15\x03\x03\x00\x02\x02\x28"),  # an alert record
        ("tls", RESP, _client_hello()),  # a server does not send a ClientHello
        ("redis", REQ, b"GET / HTTP/1.1\r\n"),
        ("redis", REQ, b"get k\r\n"),
        ("memcache", REQ, b"GET k\r\n"),
        ("mysql", REQ, _mysql_greeting()),
        ("pgsql", RESP, _pg_startup()),
        ("pgsql", REQ, struct.pack("!iI", 8, 12345)),
        ("mongodb", REQ, struct.pack("<iiiI", 26, 7, 0, 9999) + bytes(10)),
    ]
    for module, side, data in cases:
        assert modules[module].probe(data, side, "tcp") is Verdict.NO, (module, data)


def test_smtp_waits_on_a_220_that_does_not_say_smtp(modules: dict[str, ProtocolModule]) -> None:
    smtp = modules["smtp"]
    assert smtp.probe(b"220 welcome\r\n", RESP, "tcp") is Verdict.NEED_MORE  # FTP greets with 220 too
    assert smtp.probe(b"HELO me\r\n", REQ, "tcp") is Verdict.YES


def _bootp(op: int) -> bytes:
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, 0x3903F326, 0, 0, bytes(4), bytes(4), bytes(4),
                        bytes(4), bytes.fromhex("000b8201fc42") + bytes(10), bytes(64), bytes(128))
    return fixed + b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\xff"


def test_udp_probes_take_whole_datagrams(modules: dict[str, ProtocolModule]) -> None:
    assert modules["dhcpv4"].probe(_bootp(1), REQ, "udp") is Verdict.YES
    assert modules["dhcpv4"].probe(_bootp(1)[:200], REQ, "udp") is Verdict.NO
    frame = struct.pack("!HHHH", 1, 0, 1, 0)  # memcache's UDP frame header: id, sequence, count, reserved
    assert modules["memcache"].probe(frame + b"get k\r\n", REQ, "udp") is Verdict.YES
    assert modules["memcache"].probe(frame + b"random text\r\n", REQ, "udp") is Verdict.NO
    assert modules["dns"].probe(b"\x00\x01", REQ, "udp") is Verdict.NO  # no probe: the default says NO


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), side=st.sampled_from([REQ, RESP]), transport=st.sampled_from(["tcp", "udp"]))
def test_arbitrary_bytes_never_raise(modules: dict[str, ProtocolModule], data: bytes, side: Direction,
                                     transport: str) -> None:
    for module in modules.values():
        assert isinstance(module.probe(data, side, transport), Verdict)


def _dispatch(packets: list[Any], protocols: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher(build_modules(protocols), events.append, Envelope("test"), {"detect_protocols": True})
    for pkt in packets:
        dispatcher.handle(pkt)
    dispatcher.flush(10.0)
    return events, dispatcher.stats()["detect"]


def test_a_probe_that_raises_counts_and_claims_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper.modules.http import module as http_module

    def broken(data: bytes, direction: Direction) -> Verdict:
        raise IndexError("a bug in a probe")

    monkeypatch.setattr(http_module, "probe_first_bytes", broken)
    conv = TcpConversation(server_port=8999)
    packets = [*conv.handshake(), conv.send(True, b"GET / HTTP/1.1\r\n\r\n"), conv.send(False, b"HTTP/1.1 200 OK\r\n\r\n")]
    events, detect = _dispatch(packets, [{"type": "http"}])
    assert events == [] and detect["probe_bugs"] == 1 and detect["unclaimed"] == 1


def test_a_gap_at_the_start_leaves_the_connection_unclaimed() -> None:
    conv = TcpConversation(server_port=8999)
    handshake = conv.handshake()
    conv.send(True, b"GET / HT")  # lost: never handed over
    packets = [*handshake, conv.send(True, b"TP/1.1\r\n\r\n"), conv.fin(True), conv.fin(False)]
    events, detect = _dispatch(packets, [{"type": "http"}])
    assert events == [] and detect["claimed"] == {} and detect["unclaimed"] == 1
