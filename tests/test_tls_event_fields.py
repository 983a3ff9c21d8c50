"""TLS event fields from built handshakes: fingerprints per their definitions, names, resumption,
and the one-event-per-connection rules of the correlator."""

from __future__ import annotations

import hashlib
from typing import Any

from packetshipper.modules.tls.correlator import MAX_ALERTS, TlsCorrelator
from packetshipper.modules.tls.event import EventOptions, tls_event_fields
from packetshipper.modules.tls.messages import Alert, Closed, Encrypted, HandshakeFlag, Marker
from packetshipper.modules.tls.parser import TlsStreamParser
from packetshipper.protocol import Connection, Direction, Endpoint, Status

from tests.test_tls_parser import client_hello_body, ext, handshake, record, server_hello_body, u16, vec

CONNECTION = Connection("tcp", 4, Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443))


def hello(body: bytes, kind: int = 1) -> Any:
    (message,) = TlsStreamParser().receive_data(record(22, handshake(kind, body)), 1.0)
    return message


def run(*steps: tuple[Direction, Any]) -> list[Any]:
    counted: list[str] = []
    correlator = TlsCorrelator(CONNECTION, counted.append)
    out = []
    for direction, message in steps:
        out.extend(correlator.on_message(direction, message, 1.0))
    out.extend(correlator.close(9.0))
    return out


def fields(*steps: tuple[Direction, Any], **options: Any) -> dict[str, Any]:
    (txn,) = run(*steps)
    return tls_event_fields(txn, EventOptions(**options), lambda name: None)


C, S = Direction.REQUEST, Direction.RESPONSE
END = [(C, Encrypted(2.0, 1.0, 0)), (S, Encrypted(2.5, 1.0, 0))]


def test_ja4_of_foxios_published_chrome_example() -> None:
    # FoxIO's JA4 technical details: this cipher and extension set gives t13d1516h2_8daaf6152771_e5627efa2ab1.
    ciphers = (0x1A1A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
               0x009C, 0x009D, 0x002F, 0x0035)
    sigalgs = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
    extensions = (ext(0x2A2A, b"") + ext(0, vec(2, b"\x00" + vec(2, b"example.com"))) + ext(0x0017, b"")
                  + ext(0xFF01, b"\x00") + ext(10, vec(2, u16(29) + u16(23))) + ext(11, vec(1, b"\x00"))
                  + ext(0x0023, b"") + ext(16, vec(2, vec(1, b"h2") + vec(1, b"http/1.1")))
                  + ext(5, b"\x01" + u16(0) + u16(0)) + ext(0x0012, b"") + ext(0x0033, vec(2, b""))
                  + ext(0x002D, vec(1, b"\x01")) + ext(0x002B, vec(1, u16(0x3A3A) + u16(0x0304) + u16(0x0303)))
                  + ext(0x001B, vec(1, u16(2))) + ext(0x4469, b"") + ext(0x0015, b"\x00" * 10)
                  + ext(13, vec(2, b"".join(u16(a) for a in sigalgs))) + ext(0xBABA, b"\x00"))
    body = (u16(0x0303) + bytes(32) + vec(1, bytes(32)) + vec(2, b"".join(u16(c) for c in ciphers)) + vec(1, b"\x00")
            + vec(2, extensions))
    tls = fields((C, hello(body)))["tls"]
    assert tls["client"]["ja4"] == "t13d1516h2_8daaf6152771_e5627efa2ab1"


def test_ja3_string_without_grease() -> None:
    tls = fields((C, hello(client_hello_body())))["tls"]
    # Version, ciphers, extensions, groups, point formats; GREASE (0x0A0A, 0x1A1A, 0x2A2A) left out.
    expected = "771,4865-49199-255,0-10-11-13-16-43,29-23,0"
    assert tls["client"]["ja3"] == hashlib.md5(expected.encode()).hexdigest()
    assert tls["client"]["supported_ciphers"] == ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                  "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    assert tls["client"]["server_name"] == "example.com"
    assert tls["client"]["ja4"].startswith("t13d0306h2_")


def test_ja3s_and_tls13_version_from_supported_versions() -> None:
    tls = fields((C, hello(client_hello_body())), (S, hello(server_hello_body(), 2)), *END)["tls"]
    assert tls["server"]["ja3s"] == hashlib.md5(b"771,4865,43").hexdigest()
    assert (tls["version"], tls["version_protocol"], tls["detailed"]["version"]) == ("1.3", "tls", "TLS 1.3")
    assert tls["cipher"] == "TLS_AES_128_GCM_SHA256"
    # The echoed compatibility session id is not a resumption in TLS 1.3: no pre_shared_key accepted.
    assert tls["resumed"] is False and tls["established"] is True


def test_tls13_psk_is_a_resumption() -> None:
    tls = fields((C, hello(client_hello_body())), (S, hello(server_hello_body(psk=True), 2)), *END)["tls"]
    assert tls["resumed"] is True and tls["detailed"]["resumption_method"] == "id"


def test_tls12_session_id_and_ticket_resumption() -> None:
    client = hello(client_hello_body(versions=(), ticket=b"T" * 100))
    full = fields((C, client), (S, hello(server_hello_body(version=None), 2)),
                  (S, HandshakeFlag(Marker.SERVER_KEY_EXCHANGE, 1.0, 1.0, 0)), *END)["tls"]
    assert full["resumed"] is False
    by_id = fields((C, client), (S, hello(server_hello_body(version=None), 2)), *END)["tls"]
    assert by_id["resumed"] is True and by_id["detailed"]["resumption_method"] == "id"
    acked = server_hello_body(version=None, session_id=b"") [:-2]
    ticket_ext = ext(35, b"")
    acked += vec(2, ticket_ext)
    by_ticket = fields((C, client), (S, hello(acked, 2)), *END)["tls"]
    assert by_ticket["resumed"] is True and by_ticket["detailed"]["resumption_method"] == "ticket"


def test_unknown_cipher_and_point_names() -> None:
    body = client_hello_body(ciphers=(0xFF85, 0x0081), sigalgs=(0xEFEF, 0x0601))
    tls = fields((C, hello(body)))["tls"]
    assert tls["client"]["supported_ciphers"] == ["(unknown:0xff85)", "TLS_GOSTR341001_WITH_28147_CNT_IMIT"]
    assert tls["detailed"]["client_hello"]["extensions"]["signature_algorithms"] == ["(unknown:0xefef)",
                                                                                     "rsa_pkcs1_sha512"]


def test_closed_before_the_server_answers_is_one_error_event() -> None:
    (txn,) = run((C, hello(client_hello_body())), (C, Closed(3.0)))
    assert txn.status is Status.ERROR and txn.start == 1.0 and txn.end == 1.0
    tls = tls_event_fields(txn, EventOptions(), lambda name: None)["tls"]
    assert tls["established"] is False and "cipher" not in tls


def test_only_encrypted_records_publish_nothing() -> None:
    assert run(*END) == []
    assert run((C, Encrypted(1.0, 1.0, 5))) == []


def test_one_event_only() -> None:
    steps = [(C, hello(client_hello_body())), (S, hello(server_hello_body(), 2)), *END, (C, Closed(5.0))]
    assert len(run(*steps)) == 1


def test_alerts_bounded_and_named() -> None:
    counted: list[str] = []
    correlator = TlsCorrelator(CONNECTION, counted.append)
    correlator.on_message(C, hello(client_hello_body()), 1.0)
    for _ in range(MAX_ALERTS + 3):
        correlator.on_message(S, Alert(2, 40, 1.0, 1.0, 0), 1.0)
    (txn,) = correlator.close(2.0)
    assert counted.count("alerts_dropped") == 3
    tls = tls_event_fields(txn, EventOptions(), lambda name: None)["tls"]
    assert tls["detailed"]["alerts"][0] == {"severity": "fatal", "code": 40, "type": "handshake_failure",
                                           "source": "server"}
    assert len(tls["detailed"]["alert_types"]) == MAX_ALERTS


def test_options_remove_detailed_and_extras() -> None:
    steps = [(C, hello(client_hello_body())), (S, hello(server_hello_body(), 2)), *END]
    tls = fields(*steps, include_detailed_fields=False, include_ja3s=False, include_ja4=False)["tls"]
    assert "detailed" not in tls and "server" not in tls and "ja4" not in tls["client"]


def test_debug_description() -> None:
    from packetshipper.modules.tls.event import describe

    (txn,) = run((C, hello(client_hello_body())), (S, hello(server_hello_body(psk=True), 2)), *END)
    assert describe(txn) == "ClientHello example.com -> TLS 1.3 TLS_AES_128_GCM_SHA256, established, resumed"
    (txn,) = run((C, hello(client_hello_body(sni=None))))
    assert describe(txn) == "ClientHello, not established"
