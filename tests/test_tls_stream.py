"""The TLS module behind the real dispatcher and TCP layer: any segmentation gives the same event,
the first FIN publishes, a connection picked up mid-stream publishes nothing, and certificates
(real ones, made here with `cryptography`) decode the same from the cache."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.modules.tls import TlsModule
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.settings import ConfigError, validate
from plugin_example.packets import TcpConversation

from tests.test_tls_parser import CLIENT_FLIGHT, client_hello_body, handshake, record, server_hello_body, vec


def make_certificate(common_name: str, serial: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name), x509.DNSName("alt.example")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def server_flight(leaf: bytes) -> bytes:
    return (record(22, handshake(2, server_hello_body(cipher=0xC02F, version=None, alpn="h2"))
                   + handshake(11, vec(3, vec(3, leaf))) + handshake(12, b"\x03\x00\x1d" + vec(1, b"k" * 65))
                   + handshake(14, b""))
            + record(20, b"\x01") + record(22, b"F" * 40))


LEAF = make_certificate("www.example", 4242)
SERVER_FLIGHT = server_flight(LEAF)


def tls_module(**config: Any) -> TlsModule:
    return TlsModule(validate({**COMMON_SETTINGS, **TlsModule.settings}, {"type": "tls", "ports": [7777], **config}))


def converse(module: TlsModule, client: bytes, server: bytes, size: int, *, fin_first: bool = False,
             port: int = 40000) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    d = Dispatcher([module], events.append, Envelope("test"), {})
    conv = TcpConversation(client_port=port)
    packets = [*conv.handshake(), *conv.segments(True, client, size)]
    if fin_first:
        packets.append(conv.fin(True))
    packets += conv.segments(False, server, size)
    if not fin_first:
        packets.append(conv.fin(True))
    packets.append(conv.fin(False))
    for pkt in packets:
        d.handle(pkt)
    d.flush(conv.now + 100)
    return events


@pytest.mark.parametrize("size", [1, 7, 100, 100_000])
def test_any_segmentation_gives_the_same_event(size: int) -> None:
    (event,) = converse(tls_module(), CLIENT_FLIGHT, SERVER_FLIGHT, size)
    (whole,) = converse(tls_module(), CLIENT_FLIGHT, SERVER_FLIGHT, 100_000)
    assert event["tls"] == whole["tls"]
    assert event["status"] == "OK" and event["tls"]["established"] is True
    assert event["tls"]["next_protocol"] == "h2"


def test_certificate_fields_as_built() -> None:
    (event,) = converse(tls_module(fingerprints=["sha256", "md5"]), CLIENT_FLIGHT, SERVER_FLIGHT, 100_000)
    server = event["tls"]["server"]
    assert server["hash"] == {"sha256": hashlib.sha256(LEAF).hexdigest().upper(),
                              "md5": hashlib.md5(LEAF).hexdigest().upper()}
    assert server["subject"] == server["issuer"] == "CN=www.example,O=Example,C=NL"
    assert (server["not_before"], server["not_after"]) == ("2026-01-02T03:04:05.000Z", "2026-02-01T03:04:05.000Z")
    assert server["x509"] == {
        "alternative_names": ["www.example", "alt.example"],
        "issuer": {"common_name": "www.example", "country": "NL", "organization": "Example",
                   "distinguished_name": "CN=www.example,O=Example,C=NL"},
        "subject": {"common_name": "www.example", "country": "NL", "organization": "Example",
                    "distinguished_name": "CN=www.example,O=Example,C=NL"},
        "not_before": "2026-01-02T03:04:05.000Z", "not_after": "2026-02-01T03:04:05.000Z",
        "public_key_algorithm": "RSA", "public_key_size": 2048, "serial_number": "4242",
        "signature_algorithm": "SHA256-RSA", "version_number": 3}


def test_cached_certificates_are_copies_and_evictions_counted() -> None:
    module = tls_module(certificate_cache_size=1)
    first = converse(module, CLIENT_FLIGHT, SERVER_FLIGHT, 100_000)[0]
    first["tls"]["server"]["x509"]["subject"]["common_name"] = "changed by an output"
    second = converse(module, CLIENT_FLIGHT, SERVER_FLIGHT, 100_000, port=40001)[0]
    assert second["tls"]["server"]["x509"]["subject"]["common_name"] == "www.example"
    other = server_flight(make_certificate("other.example", 7))
    converse(module, CLIENT_FLIGHT, other, 100_000, port=40002)
    assert module.stats.get("certificate_cache_evictions") == 1


def test_client_fin_before_the_server_answers_publishes_then() -> None:
    (event,) = converse(tls_module(), record(22, handshake(1, client_hello_body())), SERVER_FLIGHT, 100_000,
                        fin_first=True)
    assert event["status"] == "Error" and event["tls"]["established"] is False
    assert "cipher" not in event["tls"]  # the server's answer came after the event (Packetbeat does the same)


def test_picked_up_after_the_handshake_publishes_nothing() -> None:
    assert converse(tls_module(), record(23, b"x" * 500), record(23, b"y" * 900), 100) == []


def test_not_tls_publishes_nothing() -> None:
    module = tls_module()
    assert converse(module, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", 100_000) == []


def test_unknown_fingerprint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fingerprints"):
        tls_module(fingerprints=["sha3"])
