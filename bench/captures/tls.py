"""TLS over TCP: one handshake per connection (transaction), alternating TLS 1.3 (hellos, then
ChangeCipherSpec and encrypted records) and TLS 1.2 with a two-certificate chain; handshake and FIN."""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "tls"}]
SERVER = "192.0.2.44"


def _vec(n: int, data: bytes) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _ext(code: int, data: bytes) -> bytes:
    return struct.pack("!H", code) + _vec(2, data)


def _record(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + b"\x03\x03" + _vec(2, payload)


def _hs(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _vec(3, body)


def _certificate(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1234).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _client_hello(i: int) -> bytes:
    sni = f"host{i % 1000}.example.org".encode()
    ciphers = b"".join(struct.pack("!H", c) for c in (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xCCA9, 0x009C))
    exts = (_ext(0, _vec(2, b"\0" + _vec(2, sni))) + _ext(10, _vec(2, b"\x00\x1d\x00\x17"))
            + _ext(11, _vec(1, b"\0")) + _ext(13, _vec(2, b"\x04\x03\x08\x04\x04\x01"))
            + _ext(16, _vec(2, _vec(1, b"h2") + _vec(1, b"http/1.1"))) + _ext(43, _vec(1, b"\x03\x04\x03\x03"))
            + _ext(51, _vec(2, b"\x00\x1d" + _vec(2, b"k" * 32))))
    body = b"\x03\x03" + i.to_bytes(32, "big") + _vec(1, b"s" * 32) + _vec(2, ciphers) + b"\x01\x00" + _vec(2, exts)
    return _record(22, _hs(1, body))


def _flights(i: int, chain: bytes) -> tuple[bytes, bytes, bytes]:
    client = _client_hello(i)
    if i % 2 == 0:  # TLS 1.3
        exts = _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d" + _vec(2, b"k" * 32))
        server = _record(22, _hs(2, b"\x03\x03" + bytes(32) + _vec(1, b"s" * 32) + b"\x13\x01\x00" + _vec(2, exts)))
        server += _record(20, b"\x01") + _record(23, b"e" * 900)
    else:  # TLS 1.2 with certificates
        exts = _ext(16, _vec(2, _vec(1, b"h2"))) + _ext(11, _vec(1, b"\0"))
        server = _record(22, _hs(2, b"\x03\x03" + bytes(32) + _vec(1, b"n" * 32) + b"\xc0\x2b\x00" + _vec(2, exts))
                         + _hs(11, chain) + _hs(12, b"\x03\x00\x1d" + _vec(1, b"k" * 65)) + _hs(14, b""))
    finish = (b"" if i % 2 == 0 else _record(22, _hs(16, _vec(1, b"k" * 65)))) + _record(20, b"\x01") + _record(23, b"f" * 40)
    tail = _record(20, b"\x01") + _record(22, b"F" * 40) if i % 2 else b""
    return client, server + tail, finish


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    chain = _vec(3, _vec(3, _certificate("www.example.org")) + _vec(3, _certificate("Example CA")))
    ts = 1_700_000_000.0
    for i in range(transactions):
        client_ip, sport = f"10.44.{(i >> 8) & 255}.{i & 255}", 1024 + i % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client_ip, SERVER, sport, 443, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client_ip, 443, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client_ip, SERVER, sport, 443, seq=cseq, ack=sseq)
        hello, server, finish = _flights(i, chain)
        yield ts + 0.0003, tcp_frame(client_ip, SERVER, sport, 443, hello, flags="PA", seq=cseq, ack=sseq)
        cseq += len(hello)
        yield ts + 0.0006, tcp_frame(SERVER, client_ip, 443, sport, server, flags="PA", seq=sseq, ack=cseq)
        sseq += len(server)
        yield ts + 0.0008, tcp_frame(client_ip, SERVER, sport, 443, finish, flags="PA", seq=cseq, ack=sseq)
        cseq += len(finish)
        yield ts + 0.0009, tcp_frame(client_ip, SERVER, sport, 443, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0010, tcp_frame(SERVER, client_ip, 443, sport, flags="FA", seq=sseq, ack=cseq + 1)
        yield ts + 0.0011, tcp_frame(client_ip, SERVER, sport, 443, seq=cseq + 1, ack=sseq + 1)
        ts += 0.002
