"""The http event: Packetbeat's field shape and every option that changes it. Each event is built with the
core envelope and must validate against fields/."""

from __future__ import annotations

from typing import Any

import pytest
from http_wire import request, response
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.http import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import ConfigError, validate

CLIENT = Endpoint("172.31.98.49", 55874)
SERVER = Endpoint("93.184.216.34", 80)

# The request of Packetbeat's http_basicauth.pcap (frame 13), header for header.
BASIC_AUTH_REQUEST = request("GET", "/", headers=[
    ("Authorization", "Basic c2ltcGxlc2ltb246YWJjZDEyMys="), ("User-Agent", "curl/7.37.1"),
    ("Host", "www.example.com"), ("Accept", "*/*")])


def run(config: dict[str, Any], request_wire: bytes | None, response_wire: bytes | None,
        server: Endpoint = SERVER, close: bool = False) -> dict[str, Any]:
    """One connection through the module: parsers, correlator, envelope; the single event it makes."""
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "http", **config}))
    conn = Connection("tcp", 4 if "." in server.ip else 6, CLIENT if "." in server.ip else Endpoint("::1", 5000),
                      server)
    corr = module.correlator(conn)
    txns = []
    if request_wire is not None:
        for msg in module.stream_parser(Direction.REQUEST, conn).receive_data(request_wire, 100.0):
            txns += corr.on_message(Direction.REQUEST, msg, 100.0)
    if response_wire is not None:
        parser = module.stream_parser(Direction.RESPONSE, conn)
        for msg in parser.receive_data(response_wire, 100.25) + parser.receive_eof(100.5):
            txns += corr.on_message(Direction.RESPONSE, msg, 100.25)
    if close:
        txns += corr.close(200.0)
    (txn,) = txns
    event = transaction_event("http", txn, module.event_fields(txn))
    assert validate_event(event) == []
    return event


OK_1270 = response(200, "OK", headers=[("Content-Type", "text/html")], body=b"x" * 1270)


def test_basic_auth_event_matches_packetbeat_golden_values() -> None:
    assert len(BASIC_AUTH_REQUEST) == 130  # client.bytes in the golden file
    event = run({"send_all_headers": True}, BASIC_AUTH_REQUEST, OK_1270)
    assert event["http"]["request"] == {
        "method": "GET", "bytes": 130,
        "headers": {"accept": "*/*", "authorization": "Basic c2ltcGxlc2ltb246YWJjZDEyMys=",
                    "content-length": 0, "host": "www.example.com", "user-agent": "curl/7.37.1"}}
    assert event["http"]["version"] == "1.1"
    assert event["http"]["response"]["status_code"] == 200
    assert event["http"]["response"]["status_phrase"] == "ok"
    assert event["http"]["response"]["body"] == {"bytes": 1270}
    assert event["url"] == {"domain": "www.example.com", "full": "http://www.example.com/", "path": "/",
                            "scheme": "http"}
    assert event["user"] == {"name": "simplesimon"}
    assert event["user_agent"] == {"original": "curl/7.37.1"}
    assert (event["method"], event["query"], event["status"]) == ("GET", "GET /", "OK")
    assert event["destination"]["domain"] == event["server"]["domain"] == "www.example.com"
    assert event["related"] == {"hosts": ["www.example.com"], "ip": ["172.31.98.49", "93.184.216.34"],
                                "user": ["simplesimon"]}
    assert event["client"]["bytes"] == 130
    assert event["server"]["bytes"] == len(OK_1270)


def test_headers_default_to_length_and_type_only() -> None:
    event = run({}, BASIC_AUTH_REQUEST, OK_1270)
    assert event["http"]["request"]["headers"] == {"content-length": 0}
    assert event["http"]["response"]["headers"] == {"content-length": 1270, "content-type": "text/html"}


def test_send_headers_lists_the_ones_to_keep() -> None:
    event = run({"send_headers": ["User-Agent", "X-Missing"]}, BASIC_AUTH_REQUEST, OK_1270)
    assert event["http"]["request"]["headers"] == {"content-length": 0, "user-agent": "curl/7.37.1"}


def test_split_cookie() -> None:
    wire = request("GET", "/", headers=[("Host", "h"), ("Cookie", 'SID=31d4; Lang="en-US"; bare')])
    resp = response(200, "OK", headers=[("Set-Cookie", "id=a3fWa; Max-Age=2592000")], body=b"x")
    event = run({"send_all_headers": True, "split_cookie": True}, wire, resp)
    assert event["http"]["request"]["headers"]["cookie"] == {"sid": "31d4", "lang": "en-US"}
    assert event["http"]["response"]["headers"]["set-cookie"] == {"id": "a3fWa", "max-age": "2592000"}


def test_redact_authorization_masks_and_drops_user() -> None:
    event = run({"send_all_headers": True, "redact_authorization": True, "send_request": True},
                BASIC_AUTH_REQUEST, OK_1270)
    assert event["http"]["request"]["headers"]["authorization"] == "*"
    assert "user" not in event and "user" not in event["related"]
    secret = " Basic c2ltcGxlc2ltb246YWJjZDEyMys="
    assert "Authorization:" + "*" * len(secret) + "\r\n" in event["request"]
    assert "c2ltcGxl" not in event["request"]


def test_redact_headers() -> None:
    wire = request("GET", "/", headers=[("Host", "h"), ("X-Api-Key", "k-123")])
    event = run({"send_all_headers": True, "redact_headers": ["x-api-key"]}, wire, OK_1270)
    assert event["http"]["request"]["headers"]["x-api-key"] == "REDACTED"


def test_hide_keywords_in_query_and_form() -> None:
    body = b"user=bob&password=hunter2"
    wire = request("POST", "/login?pass=abc&b=2&a=1", headers=[
        ("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")], body=body)
    event = run({"hide_keywords": ["pass", "PASSWORD"]}, wire, OK_1270)
    # keys sorted, values masked, form parameters merged in (Packetbeat's url.query)
    assert event["url"]["query"] == "a=1&b=2&pass=xxxxx&password=xxxxx&user=bob"
    assert event["url"]["full"] == "http://h/login?a=1&b=2&pass=xxxxx&password=xxxxx&user=bob"
    assert event["query"] == "POST /login"
    assert event["http"]["request"]["body"] == {"bytes": len(body)}  # not content: not included


def test_query_is_reencoded_like_go() -> None:
    wire = request("GET", "/s?q=a+b%21&empty=", headers=[("Host", "h")])
    event = run({}, wire, OK_1270)
    assert event["url"]["query"] == "empty=&q=a+b%21"


def test_include_body_for_adds_content_and_mime_type() -> None:
    resp = response(200, "OK", headers=[("Content-Type", "text/html; charset=utf-8")],
                    body=b"<html><body>hi</body></html>")
    event = run({"include_body_for": ["text/html"]}, BASIC_AUTH_REQUEST, resp)
    assert event["http"]["response"]["body"] == {"bytes": 28, "content": "<html><body>hi</body></html>"}
    assert event["http"]["response"]["mime_type"] == "text/html; charset=utf-8"


def test_real_ip_header_sets_forwarded_ip() -> None:
    wire = request("GET", "/", headers=[("Host", "h"), ("X-Forwarded-For", "203.0.113.7, 10.0.0.1")])
    event = run({"real_ip_header": "X-Forwarded-For"}, wire, OK_1270)
    assert event["network"]["forwarded_ip"] == "203.0.113.7"
    assert event["related"]["ip"] == ["172.31.98.49", "93.184.216.34", "203.0.113.7"]


def test_url_port_extension_and_full_on_another_port() -> None:
    wire = request("GET", "/static/app.min.js?v=3", headers=[("Host", "cdn.example.org:8080")])
    event = run({}, wire, OK_1270, server=Endpoint("93.184.216.34", 8080))
    assert event["url"] == {"scheme": "http", "domain": "cdn.example.org", "port": 8080, "path": "/static/app.min.js",
                            "query": "v=3", "extension": "js", "full": "http://cdn.example.org:8080/static/app.min.js?v=3"}
    assert "error" not in event


def test_host_header_port_mismatch_is_reported() -> None:
    wire = request("GET", "/", headers=[("Host", "example.com:8443")])
    event = run({}, wire, OK_1270)
    assert event["error"]["message"] == "Host header port number mismatch"
    assert event["url"]["port"] == 8443


def test_ip_host_header_goes_to_related_ip_not_domain() -> None:
    wire = request("GET", "/", headers=[("Host", "[2001:db8::1]:8000")])
    event = run({}, wire, OK_1270, server=Endpoint("2001:db8::1", 8000))
    assert "domain" not in event["server"]
    assert event["url"]["full"] == "http://[2001:db8::1]:8000/"
    assert "hosts" not in event.get("related", {})


def test_referrer_and_its_host() -> None:
    wire = request("GET", "/", headers=[("Host", "a.example"), ("Referer", "https://b.example/page?x=1")])
    event = run({}, wire, OK_1270)
    assert event["http"]["request"]["referrer"] == "https://b.example/page?x=1"
    assert event["related"]["hosts"] == ["a.example", "b.example"]


def test_unmatched_response_event() -> None:
    event = run({}, None, response(404, "Not Found", body=b"Nope."))
    assert (event["status"], event["error"]["message"]) == ("Error", "Unmatched response")
    assert event["http"] == {"version": "1.1", "response": {
        "status_code": 404, "status_phrase": "not found", "bytes": len(response(404, "Not Found", body=b"Nope.")),
        "body": {"bytes": 5}, "headers": {"content-length": 5}}}
    assert "url" not in event and "method" not in event


def test_several_notes_make_an_error_message_list() -> None:
    wire = request("GET", "/", headers=[("Host", "example.com:1")])
    event = run({}, wire, None, close=True)
    assert event["error"]["message"] == ["Unmatched request", "Host header port number mismatch"]
    assert event["status"] == "Error"


def test_send_request_and_response_carry_raw_heads() -> None:
    event = run({"send_request": True, "send_response": True}, BASIC_AUTH_REQUEST, OK_1270)
    assert event["request"] == BASIC_AUTH_REQUEST.decode()
    assert event["response"] == OK_1270[: OK_1270.index(b"\r\n\r\n") + 4].decode()  # body not included


def test_settings_defaults_are_packetbeats() -> None:
    config = validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "http"})
    module = MODULE(config)
    assert module.ports == (80, 8080, 8000, 5000, 8002)
    assert (config["max_message_size"], config["decode_body"], config["send_all_headers"],
            config["transaction_timeout"]) == (10 * 1024 * 1024, True, False, 10.0)
    assert MODULE.name == "http" and MODULE.transports == {"tcp"}


def test_bad_setting_names_its_key() -> None:
    with pytest.raises(ConfigError) as info:
        validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "http", "max_message_size": "lots"})
    assert info.value.path == "max_message_size"
