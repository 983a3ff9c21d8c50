"""HTTP/1.x message framing (RFC 9112 section 6): each case fed whole, one byte at a time, and followed
by the start of a message that never completes. Expected values come from the case's meaning."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from http_wire import (
    TRAILING_REQUEST_BYTES,
    TRAILING_RESPONSE_BYTES,
    feed_bytewise,
    feed_whole,
    head_size,
    request,
    response,
)
from packetshipper.modules.http.exchange import ExchangeLog
from packetshipper.modules.http.messages import HttpRequest, HttpResponse
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig


def make_config(**overrides: Any) -> HttpConfig:
    return HttpConfig.from_mapping(overrides)


@dataclass(frozen=True)
class Case:
    name: str
    wire: bytes
    # (kind, size, body_bytes, extra checks) per expected message
    expect: list[tuple[type, int, int]]
    methods: tuple[str, ...] = ()  # requests the response stream answers (for HEAD)
    check: Callable[[list[Any]], None] | None = None


GET = request("GET", "/index.html", headers=[("Host", "example.com"), ("Accept", "*/*")])
POST_BODY = b"name=value&x=1"
POST = request("POST", "/form", headers=[("Host", "example.com"),
                                        ("Content-Type", "application/x-www-form-urlencoded")], body=POST_BODY)
CHUNKS = [b"Hello, ", b"chunked ", b"world"]
CHUNKED_REQ = request("PUT", "/up", headers=[("Host", "h")], chunks=CHUNKS, trailers=[("X-Checksum", "abc")])
OK_BODY = b"<html>hi</html>"
OK = response(200, "OK", headers=[("Content-Type", "text/html")], body=OK_BODY)
CHUNKED_RESP = response(200, "OK", chunks=[b"a" * 17, b"b" * 300])
EXT_CHUNKED_RESP = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;name=value\r\nhello\r\n0\r\n\r\n")
NOT_MODIFIED = response(304, "Not Modified", headers=[("Content-Length", "1234")])
NO_CONTENT = response(204, "No Content", headers=[("Content-Length", "50")])
HEAD_OK = response(200, "OK", headers=[("Content-Length", "4096")])
CONTINUE = response(100, "Continue")


def _headers_of(index: int, expected: tuple[tuple[str, str], ...]) -> Callable[[list[Any]], None]:
    def check(messages: list[Any]) -> None:
        assert messages[index].headers == expected

    return check


def _check_get(messages: list[Any]) -> None:
    (msg,) = messages
    assert (msg.method, msg.target, msg.version) == ("GET", "/index.html", "1.1")
    assert msg.headers == (("host", "example.com"), ("accept", "*/*"))
    assert msg.raw_headers == GET


def _check_status(codes: list[int]) -> Callable[[list[Any]], None]:
    def check(messages: list[Any]) -> None:
        assert [m.status_code for m in messages] == codes

    return check


CASES = [
    Case("get without body", GET, [(HttpRequest, len(GET), 0)], check=_check_get),
    Case("post with content-length", POST, [(HttpRequest, len(POST), len(POST_BODY))]),
    Case("chunked request with trailers", CHUNKED_REQ,
         [(HttpRequest, len(CHUNKED_REQ), sum(map(len, CHUNKS)))],
         check=_headers_of(0, (("host", "h"), ("transfer-encoding", "chunked"), ("x-checksum", "abc")))),
    Case("pipelined requests", GET + POST + GET,
         [(HttpRequest, len(GET), 0), (HttpRequest, len(POST), len(POST_BODY)), (HttpRequest, len(GET), 0)]),
    Case("empty lines before a request are skipped", b"\r\n\r\n" + GET, [(HttpRequest, len(GET), 0)]),
    Case("response with content-length", OK, [(HttpResponse, len(OK), len(OK_BODY))]),
    Case("chunked response", CHUNKED_RESP, [(HttpResponse, len(CHUNKED_RESP), 317)]),
    Case("chunk extensions are ignored", EXT_CHUNKED_RESP, [(HttpResponse, len(EXT_CHUNKED_RESP), 5)]),
    Case("304 has no body whatever its Content-Length", NOT_MODIFIED + OK,
         [(HttpResponse, len(NOT_MODIFIED), 0), (HttpResponse, len(OK), len(OK_BODY))],
         methods=("GET", "GET"), check=_check_status([304, 200])),
    Case("204 has no body", NO_CONTENT + OK,
         [(HttpResponse, len(NO_CONTENT), 0), (HttpResponse, len(OK), len(OK_BODY))], methods=("GET", "GET")),
    Case("response to HEAD has no body", HEAD_OK + OK,
         [(HttpResponse, len(HEAD_OK), 0), (HttpResponse, len(OK), len(OK_BODY))], methods=("HEAD", "GET")),
    Case("100 Continue then the final response", CONTINUE + OK,
         [(HttpResponse, len(CONTINUE), 0), (HttpResponse, len(OK), len(OK_BODY))], methods=("POST",),
         check=_check_status([100, 200])),
    Case("keep-alive response without any length has no body", response(200, "OK") + OK,
         [(HttpResponse, len(response(200, "OK")), 0), (HttpResponse, len(OK), len(OK_BODY))]),
    Case("status line without a reason phrase", response(404, "", body=b"x"),
         [(HttpResponse, len(response(404, "", body=b"x")), 1)]),
]


def _parser(methods: tuple[str, ...] = (), **config: Any) -> HttpStreamParser:
    cfg = make_config(**config)
    exchange = ExchangeLog(100, lambda name: None)
    for method in methods:
        exchange.request_sent(method)
    return HttpStreamParser(cfg, exchange)


def _verify(case: Case, messages: list[Any]) -> None:
    assert [(type(m), m.size, m.body_bytes) for m in messages] == case.expect
    if case.check:
        case.check(messages)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_whole(case: Case) -> None:
    _verify(case, feed_whole(_parser(case.methods), case.wire))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_one_byte_at_a_time(case: Case) -> None:
    _verify(case, feed_bytewise(_parser(case.methods), case.wire))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_with_trailing_bytes(case: Case) -> None:
    trailing = TRAILING_REQUEST_BYTES if case.expect[0][0] is HttpRequest else TRAILING_RESPONSE_BYTES
    parser = _parser(case.methods + ("GET",))
    _verify(case, feed_whole(parser, case.wire + trailing))
    assert parser.receive_eof(2.0) == []  # an unfinished head is dropped, not invented into a message


def test_close_delimited_body_ends_at_eof() -> None:
    body = b"all of this until the server closes"
    wire = response(200, "OK", version="1.0", body=body, content_length=False)
    parser = _parser()
    assert feed_whole(parser, wire) == []
    (msg,) = parser.receive_eof(2.0)
    assert (msg.version, msg.body_bytes, msg.size, msg.notes) == ("1.0", len(body), len(wire), ())


def test_connection_close_response_without_length_is_close_delimited() -> None:
    body = b"x" * 100
    wire = response(200, "OK", headers=[("Connection", "close")], body=body, content_length=False)
    parser = _parser()
    assert feed_bytewise(parser, wire) == []
    (msg,) = parser.receive_eof(2.0)
    assert msg.body_bytes == len(body)


def test_timestamps_are_first_and_last_byte() -> None:
    parser = _parser()
    out = []
    for i, byte in enumerate(OK):
        out += parser.receive_data(bytes([byte]), 10.0 + i)
    (msg,) = out
    assert (msg.ts, msg.end_ts) == (10.0, 10.0 + len(OK) - 1)


def test_second_message_in_a_segment_starts_at_that_segment() -> None:
    parser = _parser()
    first = parser.receive_data(GET + POST[:10], 5.0)
    second = parser.receive_data(POST[10:], 6.0)
    assert [(m.ts, m.end_ts) for m in first + second] == [(5.0, 5.0), (5.0, 6.0)]


def test_folded_header_value_is_joined() -> None:
    wire = b"GET / HTTP/1.1\r\nX-Long: first\r\n  second\r\nHost: h\r\n\r\n"
    (msg,) = feed_whole(_parser(), wire)
    assert msg.headers == (("x-long", "first second"), ("host", "h"))


def test_repeated_header_values_are_joined_by_comma() -> None:
    wire = request("GET", "/", headers=[("Accept", "a"), ("Accept", "b")])
    (msg,) = feed_whole(_parser(), wire)
    assert msg.header("accept") == "a, b"


def test_version_1_0_request() -> None:
    (msg,) = feed_whole(_parser(), request("GET", "/", version="1.0"))
    assert msg.version == "1.0"


def test_head_size_helper_agrees_with_raw_headers() -> None:
    (msg,) = feed_whole(_parser(), POST)
    assert len(msg.raw_headers) == head_size(POST)
