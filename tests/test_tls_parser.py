"""The TLS record and handshake parser, from wire bytes built here after RFC 8446 / RFC 5246.

Each case is fed whole, one byte at a time, and with a trailing partial record; hypothesis checks
that random splits give the same messages and that arbitrary bytes raise nothing but ProtocolError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.modules.tls.messages import (
    Alert,
    Certificates,
    Closed,
    Encrypted,
    HandshakeFlag,
    Hello,
    HelloKind,
)
from packetshipper.modules.tls.parser import TlsStreamParser
from packetshipper.protocol import ProtocolError


# --- wire builders ------------------------------------------------------------------------------------
def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def vec(length_bytes: int, data: bytes) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def ext(code: int, data: bytes) -> bytes:
    return u16(code) + vec(2, data)


def record(content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
    return bytes([content_type]) + u16(version) + vec(2, payload)


def handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + vec(3, body)


def client_hello_body(*, sni: str | None = "example.com", alpn: tuple[str, ...] = ("h2", "http/1.1"),
                      ciphers: tuple[int, ...] = (0x0A0A, 0x1301, 0xC02F, 0x00FF),
                      groups: tuple[int, ...] = (0x2A2A, 29, 23), versions: tuple[int, ...] = (0x0304, 0x0303),
                      sigalgs: tuple[int, ...] = (0x0403, 0x0804), session_id: bytes = b"\x11" * 32,
                      ticket: bytes | None = None) -> bytes:
    extensions = ext(0x1A1A, b"")
    if sni is not None:
        extensions += ext(0, vec(2, b"\x00" + vec(2, sni.encode())))
    extensions += ext(10, vec(2, b"".join(u16(g) for g in groups)))
    extensions += ext(11, vec(1, b"\x00"))
    extensions += ext(13, vec(2, b"".join(u16(s) for s in sigalgs)))
    if alpn:
        extensions += ext(16, vec(2, b"".join(vec(1, p.encode()) for p in alpn)))
    if ticket is not None:
        extensions += ext(35, ticket)
    if versions:
        extensions += ext(43, vec(1, b"".join(u16(v) for v in versions)))
    return (u16(0x0303) + bytes(range(32)) + vec(1, session_id) + vec(2, b"".join(u16(c) for c in ciphers))
            + vec(1, b"\x00") + vec(2, extensions))


def server_hello_body(*, cipher: int = 0x1301, version: int | None = 0x0304, session_id: bytes = b"\x11" * 32,
                      alpn: str | None = None, psk: bool = False) -> bytes:
    extensions = b""
    if version is not None:
        extensions += ext(43, u16(version))
    if alpn:
        extensions += ext(16, vec(2, vec(1, alpn.encode())))
    if psk:
        extensions += ext(41, u16(0))
    return u16(0x0303) + bytes(range(32, 64)) + vec(1, session_id) + u16(cipher) + b"\x00" + vec(2, extensions)


CLIENT_FLIGHT = record(22, handshake(1, client_hello_body())) + record(20, b"\x01") + record(23, b"\x99" * 40)
TLS12_SERVER_FLIGHT = (
    record(22, handshake(2, server_hello_body(cipher=0xC02F, version=None, alpn="h2"))
           + handshake(11, vec(3, vec(3, b"not a real certificate") + vec(3, b"another one")))
           + handshake(12, b"\x03\x00\x1d" + vec(1, b"k" * 32))
           + handshake(13, b"\x01\x01" + vec(2, b"") + vec(2, b""))
           + handshake(14, b""))
    + record(21, b"\x01\x00")
    + record(20, b"\x01"))


def feed_whole(data: bytes) -> list[object]:
    return TlsStreamParser().receive_data(data, 1.0)


def feed_bytewise(data: bytes) -> list[object]:
    parser = TlsStreamParser()
    out: list[object] = []
    for i in range(len(data)):
        out.extend(parser.receive_data(data[i:i + 1], 1.0))
    return out


def kinds(messages: list[object]) -> list[str]:
    return [type(m).__name__ for m in messages]


@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"])
def test_client_flight(feed: object) -> None:
    messages = feed(CLIENT_FLIGHT)  # type: ignore[operator]
    assert kinds(messages) == ["Hello", "Encrypted"]
    hello = messages[0]
    assert isinstance(hello, Hello)
    assert hello.kind is HelloKind.CLIENT
    assert hello.version == 0x0303
    assert hello.random == bytes(range(32))
    assert hello.session_id == b"\x11" * 32
    assert hello.cipher_suites == (0x0A0A, 0x1301, 0xC02F, 0x00FF)  # as sent: GREASE kept here
    assert [e.code for e in hello.extensions] == [0x1A1A, 0, 10, 11, 13, 16, 43]
    encrypted = messages[1]
    assert isinstance(encrypted, Encrypted)
    assert encrypted.offset == len(record(22, handshake(1, client_hello_body()))) + 6


@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"])
def test_tls12_server_flight(feed: object) -> None:
    messages = feed(TLS12_SERVER_FLIGHT)  # type: ignore[operator]
    assert kinds(messages) == ["Hello", "Certificates", "HandshakeFlag", "HandshakeFlag", "Alert", "Encrypted"]
    certificates = messages[1]
    assert isinstance(certificates, Certificates)
    assert certificates.ders == (b"not a real certificate", b"another one")
    assert [m.marker.name for m in messages[2:4]] == ["SERVER_KEY_EXCHANGE", "CERTIFICATE_REQUEST"]  # type: ignore[attr-defined]
    alert = messages[4]
    assert isinstance(alert, Alert) and (alert.level, alert.code) == (1, 0)


def test_trailing_partial_record_waits() -> None:
    parser = TlsStreamParser()
    assert kinds(parser.receive_data(TLS12_SERVER_FLIGHT[:-3], 1.0)) == [
        "Hello", "Certificates", "HandshakeFlag", "HandshakeFlag", "Alert"]
    assert kinds(parser.receive_data(TLS12_SERVER_FLIGHT[-3:], 2.0)) == ["Encrypted"]


def test_handshake_message_split_across_records() -> None:
    message = handshake(1, client_hello_body())
    data = record(22, message[:7]) + record(22, message[7:50]) + record(22, message[50:])
    assert kinds(feed_whole(data)) == ["Hello"]
    split, = feed_whole(data)
    whole, = feed_whole(record(22, message))
    assert dataclasses.replace(split, offset=0) == dataclasses.replace(whole, offset=0)  # type: ignore[type-var]
    assert split.offset == len(data)  # type: ignore[attr-defined]


def test_two_handshake_messages_in_one_record_and_first_byte_time() -> None:
    parser = TlsStreamParser()
    data = TLS12_SERVER_FLIGHT
    assert parser.receive_data(data[:10], 5.0) == []
    messages = parser.receive_data(data[10:], 7.0)
    assert {m.started for m in messages if not isinstance(m, Closed)} == {5.0}  # type: ignore[union-attr]
    assert {m.ts for m in messages} == {7.0}  # type: ignore[union-attr]


def test_after_change_cipher_spec_nothing_is_kept() -> None:
    parser = TlsStreamParser()
    parser.receive_data(CLIENT_FLIGHT, 1.0)
    assert parser.receive_data(b"\x17\x03\x03\xff\xff" + b"x" * 5000, 2.0) == []
    assert parser.receive_data(b"garbage that is not TLS", 3.0) == []
    assert parser.receive_gap(1000, 4.0) == []
    assert len(parser._records) == 0 and len(parser._handshake) == 0


def test_application_data_first_counts_as_encrypted() -> None:
    # TLS 1.3 without middlebox compatibility, or a connection picked up after its handshake.
    assert kinds(feed_whole(record(23, b"\x00" * 30))) == ["Encrypted"]


def test_encrypted_alert_is_not_reported() -> None:
    assert feed_whole(record(21, b"\x00" * 24)) == []


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\n\r\n",
    record(22, b"", version=0x0203),
    b"\x16\x03\x03\x50\x00",  # longer than 2^14 + 2048
    record(22, handshake(1, b"\x02\x00" + b"\x00" * 40)),  # hello version 2.0
    record(22, handshake(1, u16(0x0303) + bytes(32) + b"\x21" + bytes(33))),  # 33-byte session id
    record(22, handshake(1, u16(0x0303) + bytes(32) + b"\x00" + u16(3) + b"\x00")),  # odd cipher list, truncated
])
def test_not_tls_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_whole(data)


def test_handshake_over_max_size_is_counted() -> None:
    counted: list[str] = []
    parser = TlsStreamParser(max_handshake_size=1024, count=counted.append)
    with pytest.raises(ProtocolError):
        parser.receive_data(record(22, b"\x0b" + (2000).to_bytes(3, "big")), 1.0)
    assert counted == ["handshake_over_max_size"]


def test_gap_before_encryption_raises_and_eof_closes() -> None:
    parser = TlsStreamParser()
    with pytest.raises(ProtocolError):
        parser.receive_gap(10, 1.0)
    assert kinds(parser.receive_eof(2.0)) == ["Closed"]


def test_hello_flag_messages() -> None:
    messages = feed_whole(record(22, handshake(0, b"") + handshake(16, vec(2, b"k" * 64))))
    assert [m.marker.name for m in messages if isinstance(m, HandshakeFlag)] == ["HELLO_REQUEST",
                                                                                "CLIENT_KEY_EXCHANGE"]


# --- properties ------------------------------------------------------------------------------------------
def split_feed(data: bytes, cuts: list[int]) -> list[object]:
    parser = TlsStreamParser()
    out: list[object] = []
    points = sorted({c % (len(data) + 1) for c in cuts})
    last = 0
    for point in [*points, len(data)]:
        out.extend(parser.receive_data(data[last:point], 1.0))
        last = point
    return out


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
       st.sampled_from([CLIENT_FLIGHT, TLS12_SERVER_FLIGHT]))
def test_random_splits_give_the_same_messages(cuts: list[int], data: bytes) -> None:
    assert split_feed(data, cuts) == feed_whole(data)


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0, max_value=600), max_size=8))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(ProtocolError):
        split_feed(data, cuts)


@given(st.binary(min_size=1, max_size=80), st.integers(min_value=0, max_value=400))
def test_mutated_hellos_raise_only_protocol_error(junk: bytes, at: int) -> None:
    data = bytearray(record(22, handshake(1, client_hello_body())))
    at = 5 + at % (len(data) - 5)
    data[at:at + len(junk)] = junk
    with contextlib.suppress(ProtocolError):
        feed_whole(bytes(data))
