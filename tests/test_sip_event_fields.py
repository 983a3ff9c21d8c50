"""SIP event fields for messages built from meaning: options, status, outcome, authorization, the
sender as source, and every event valid against fields/. Expected values follow RFC 3261 and the
field rules Packetbeat's golden files show (tests/test_sip_packetbeat_golden.py checks those)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.event import transaction_event
from packetshipper.modules.sip import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import validate
from test_sip_parser import SDP, request, response

CONN = Connection("udp", 4, Endpoint("192.0.2.10", 5060), Endpoint("192.0.2.20", 5070), community_id="1:xDRQZvk3ErEhBDslXv1c6EKI804=")
AUTH = ('Digest username="alice", realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e", '
        'uri="sip:bob@biloxi.com:5061", response="7587245234b3434cc3412213e5f113a5432"')


def events(data: bytes, direction: Direction = Direction.REQUEST, **options: Any) -> dict[str, Any]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip", **options}))
    (msg,) = module.parse_datagram(data, 10.0, direction, CONN)
    (txn,) = module.correlator(CONN).on_message(direction, msg, 10.0)
    return transaction_event("sip", txn, module.event_fields(txn))


def test_request_fields(assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    e = events(request(body=SDP))
    assert_valid_event(e)
    assert e["sip"]["type"] == "request" and e["sip"]["method"] == "INVITE"
    assert e["sip"]["uri"] == {"original": "sip:bob@biloxi.com", "scheme": "sip", "username": "bob", "host": "biloxi.com"}
    assert e["sip"]["from"] == {"display_info": "Alice", "tag": "1928301774", "uri": {
        "original": "sip:alice@atlanta.com", "scheme": "sip", "username": "alice", "host": "atlanta.com"}}
    assert e["sip"]["cseq"] == {"code": 314159, "method": "INVITE"} and e["event"]["sequence"] == 314159
    assert e["sip"]["max_forwards"] == 70 and e["sip"]["call_id"] == "a84b4c76e66710@pc33.atlanta.com"
    assert e["sip"]["sdp"]["owner"]["ip"] == "198.51.100.1"
    assert e["event"]["action"] == "sip-invite" and "outcome" not in e["event"] and "reason" not in e["event"]
    assert e["event"]["original"] == request(body=SDP).decode()
    assert e["status"] == "OK" and e["network"]["application"] == "sip"
    assert "bytes" not in e["network"] and "bytes" not in e["source"]
    assert e["related"]["ip"] == ["198.51.100.1", "192.0.2.10", "192.0.2.20"]
    assert e["related"]["user"] == ["bob", "alice", "jdoe"]


def test_sender_is_source_for_a_response_from_the_server(assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    e = events(response(180, "Ringing"), Direction.RESPONSE)
    assert_valid_event(e)
    assert e["source"] == e["client"] == {"ip": "192.0.2.20", "port": 5070}
    assert e["destination"] == e["server"] == {"ip": "192.0.2.10", "port": 5060}
    assert e["sip"]["code"] == 180 and e["sip"]["status"] == "Ringing" and e["event"]["reason"] == "Ringing"
    assert e["event"]["action"] == "sip-invite"  # a response is named after its CSeq method
    assert "outcome" not in e["event"]  # provisional: neither success nor failure


def test_outcome_and_status_by_code() -> None:
    assert events(response(200), Direction.RESPONSE)["event"]["outcome"] == "success"
    redirect = events(response(302, "Moved Temporarily"), Direction.RESPONSE)
    assert redirect["event"]["outcome"] == "failure" and redirect["status"] == "OK"
    busy = events(response(486, "Busy Here"), Direction.RESPONSE)
    assert busy["event"]["outcome"] == "failure" and busy["status"] == "Error"


def test_authorization_parsed(assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    e = events(request("REGISTER", "sip:registrar.atlanta.com", headers=[("CSeq", "1 REGISTER"), ("Authorization", AUTH)]))
    assert_valid_event(e)
    assert e["sip"]["auth"] == {"scheme": "Digest", "realm": "atlanta.com", "uri": {
        "original": "sip:bob@biloxi.com:5061", "scheme": "sip", "host": "biloxi.com", "port": 5061}}
    assert e["user"] == {"name": "alice"} and "alice" in e["related"]["user"]
    assert e["event"]["category"] == ["network", "authentication"]


def test_parse_authorization_off() -> None:
    e = events(request("REGISTER", "sip:r", headers=[("CSeq", "1 REGISTER"), ("Authorization", AUTH)]),
               parse_authorization=False)
    assert "auth" not in e["sip"] and "user" not in e
    assert e["event"]["category"] == ["network", "authentication"]  # the header is there all the same


def test_parse_body_off_and_keep_original_off() -> None:
    e = events(request(body=SDP), parse_body=False, keep_original=False)
    assert "sdp" not in e["sip"] and "original" not in e["event"]
    assert e["sip"]["content_type"] == "application/sdp"


def test_non_sdp_body_not_parsed() -> None:
    data = request(headers=[("CSeq", "1 MESSAGE")], body="") .replace(b"\r\n\r\n", b"\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
    assert "sdp" not in events(data)["sip"]


def test_allow_supported_lower_case_lists() -> None:
    e = events(response(headers=[("CSeq", "1 OPTIONS"), ("Allow", "INVITE, ACK,BYE"), ("Supported", "Timer, 100rel")]),
               Direction.RESPONSE)
    assert e["sip"]["allow"] == ["invite", "ack", "bye"] and e["sip"]["supported"] == ["timer", "100rel"]
    assert e["event"]["action"] == "sip-options"


def test_describe() -> None:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip"}))
    (msg,) = module.parse_datagram(response(100, "Trying"), 1.0, Direction.RESPONSE, CONN)
    (txn,) = module.correlator(CONN).on_message(Direction.RESPONSE, msg, 1.0)
    assert module.describe(txn) == "100 Trying from the server (CSeq 314159 INVITE)"


def test_keepalive_datagram_is_counted_not_an_event() -> None:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip"}))
    assert module.parse_datagram(b"\r\n\r\n", 1.0, Direction.REQUEST, CONN) == []
    assert module.stats["keepalives"] == 1
