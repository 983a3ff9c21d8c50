"""Messages do not depend on how the bytes were cut into segments: a segment that starts with a whole head
(parsed straight from the segment), body bytes that follow it, and the next message's first bytes.

Every expectation comes from the wire bytes' meaning (RFC 9112 framing), and each stream is also fed
byte by byte and cut at every offset, which must give the same messages.
"""

from __future__ import annotations

from typing import Any

import pytest
from http_wire import feed_bytewise, feed_split, head_size, request, response
from packetshipper.modules.http.exchange import ExchangeLog
from packetshipper.modules.http.messages import HttpRequest, HttpResponse
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig
from packetshipper.protocol import ProtocolError

BODY = b"<html>" + b"x" * 40 + b"</html>"
GET = request("GET", "/item/7?page=2", headers=[("Host", "shop.example.com"), ("User-Agent", "t/1")])
POST = request("POST", "/form", headers=[("Host", "a.example"), ("Content-Type", "text/plain")], body=b"a=1&b=2")
OK = response(200, "OK", headers=[("Content-Type", "text/html")], body=BODY)
NOT_MODIFIED = response(304, "Not Modified", headers=[("ETag", '"v1"')])


def _parser(config: dict[str, Any] | None = None, methods: tuple[str, ...] = ()) -> HttpStreamParser:
    counts: list[str] = []
    exchange = ExchangeLog(100, counts.append)
    for method in methods:
        exchange.request_sent(method)
    return HttpStreamParser(HttpConfig.from_mapping(config or {}), exchange, counts.append)


def _summary(messages: list[Any]) -> list[tuple[Any, ...]]:
    return [(type(m).__name__, m.size, m.body_bytes, m.body, m.raw_headers, m.headers, m.notes) for m in messages]


def test_a_request_head_alone_in_its_segment() -> None:
    (message,) = _parser().receive_data(GET, 3.0)
    assert isinstance(message, HttpRequest)
    assert (message.method, message.target, message.version) == ("GET", "/item/7?page=2", "1.1")
    assert message.headers == (("host", "shop.example.com"), ("user-agent", "t/1"))
    assert message.raw_headers == GET
    assert (message.size, message.body_bytes, message.body, message.notes) == (len(GET), 0, None, ())
    assert (message.ts, message.end_ts) == (3.0, 3.0)


def test_a_whole_head_and_part_of_its_body_then_the_rest_in_two_segments() -> None:
    parser = _parser(methods=("GET",))
    head = head_size(OK)
    assert parser.receive_data(OK[: head + 10], 1.0) == []
    assert parser.receive_data(OK[head + 10 : head + 30], 2.0) == []
    (message,) = parser.receive_data(OK[head + 30 :], 3.0)
    assert isinstance(message, HttpResponse)
    assert (message.status_code, message.size, message.body_bytes) == (200, len(OK), len(BODY))
    assert message.body is None  # text/html is not asked for
    assert (message.ts, message.end_ts) == (1.0, 3.0)


def test_a_kept_body_after_a_whole_head_is_kept_whole() -> None:
    parser = _parser({"include_body_for": ["text/html"]}, methods=("GET",))
    head = head_size(OK)
    assert parser.receive_data(OK[: head + 5], 1.0) == []
    (message,) = parser.receive_data(OK[head + 5 :], 2.0)
    assert message.body == BODY
    assert message.body_bytes == len(BODY)


def test_pipelined_requests_in_one_segment_with_the_next_one_cut() -> None:
    parser = _parser({"include_body_for": ["text/plain"]})
    stream = GET + POST + GET
    first, second = parser.receive_data(stream[: len(GET) + len(POST) + 5], 1.0)
    assert (first.method, first.size, first.ts) == ("GET", len(GET), 1.0)
    assert (second.method, second.size, second.body_bytes, second.body) == ("POST", len(POST), 7, b"a=1&b=2")
    (third,) = parser.receive_data(stream[len(GET) + len(POST) + 5 :], 4.0)
    # The third request's first bytes came with the first segment: that is when it started.
    assert (third.method, third.ts, third.end_ts, third.size) == ("GET", 1.0, 4.0, len(GET))


def test_a_response_body_followed_by_a_bodiless_response_in_one_segment() -> None:
    parser = _parser(methods=("GET", "GET"))
    first, second = parser.receive_data(OK + NOT_MODIFIED, 1.0)
    assert (first.status_code, first.size, first.body_bytes) == (200, len(OK), len(BODY))
    assert (second.status_code, second.size, second.body_bytes, second.body) == (304, len(NOT_MODIFIED), 0, None)


def test_a_response_to_head_has_no_body_whatever_its_length_says() -> None:
    wire = response(200, "OK", headers=[("Content-Length", "1000")])
    parser = _parser(methods=("HEAD", "GET"))
    (answer,) = parser.receive_data(wire + NOT_MODIFIED[:4], 1.0)
    assert (answer.size, answer.body_bytes) == (len(wire), 0)
    (next_answer,) = parser.receive_data(NOT_MODIFIED[4:], 2.0)
    assert (next_answer.status_code, next_answer.ts) == (304, 1.0)


def test_a_head_with_utf8_and_invalid_bytes_reads_as_each_piece_decoded_alone() -> None:
    wire = b"GET /caf\xc3\xa9/\xff HTTP/1.1\r\nHost: h\r\nX-Name: Jos\xc3\xa9 \xfe!\r\n\r\n"
    (message,) = _parser().receive_data(wire, 1.0)
    assert message.target == "/caf\u00e9/\ufffd"
    assert message.headers == (("host", "h"), ("x-name", "Jos\u00e9 \ufffd!"))
    assert message.raw_headers == wire


@pytest.mark.parametrize(("wire", "error"), [
    (b"GET /a HTTP/2.0\r\nHost: h\r\n\r\n", "HTTP/2.0 is not HTTP/1.x"),
    (b"GET  /a HTTP/1.1\r\nHost: h\r\n\r\n", "malformed request line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/3.0 200 OK\r\n\r\n", "HTTP/3.0 is not HTTP/1.x"),
])
def test_a_bad_start_line_in_a_whole_head_is_the_error_either_way(wire: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        _parser(methods=("GET",)).receive_data(wire, 1.0)
    with pytest.raises(ProtocolError, match=error):
        feed_bytewise(_parser(methods=("GET",)), wire)


def test_a_head_over_the_limit_with_a_bad_start_line_reports_the_start_line() -> None:
    wire = b"GET  /a HTTP/1.1\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n"
    with pytest.raises(ProtocolError, match="malformed request line"):
        _parser({"max_message_size": 100}).receive_data(wire, 1.0)


def test_a_head_over_the_limit_is_refused_and_counted() -> None:
    counts: list[str] = []
    parser = HttpStreamParser(HttpConfig.from_mapping({"max_message_size": 100}), ExchangeLog(100, counts.append),
                              counts.append)
    with pytest.raises(ProtocolError, match="header block over max_message_size"):
        parser.receive_data(b"GET /a HTTP/1.1\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n", 1.0)
    assert counts == ["oversized_heads"]


STREAMS = {
    "requests": (GET + POST + GET, ()),
    "responses": (OK + NOT_MODIFIED + OK, ("GET", "GET", "GET")),
    "chunked": (response(200, "OK", chunks=[b"abc", b"defgh"], trailers=[("X-T", "1")]) + OK + NOT_MODIFIED,
                ("GET", "GET", "GET")),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_cut_gives_the_messages_of_the_whole_stream(name: str) -> None:
    stream, methods = STREAMS[name]
    config = {"include_body_for": ["text/plain"]}
    whole = _summary(_parser(config, methods).receive_data(stream, 1.0))
    assert len(whole) == 3
    assert sum(size for _, size, *_ in whole) == len(stream)
    assert _summary(feed_bytewise(_parser(config, methods), stream)) == whole
    for cut in range(1, len(stream)):
        assert _summary(feed_split(_parser(config, methods), stream, [cut])) == whole, cut
        assert _summary(feed_split(_parser(config, methods), stream, [cut, cut + 7])) == whole, cut


def test_field_values_lose_only_surrounding_spaces_and_tabs() -> None:
    wire = b"GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a b \t\r\nX-Empty:\r\nX-Blank:  \r\nX-Colon: a:b\r\n\r\n"
    (message,) = _parser().receive_data(wire, 1.0)
    assert message.headers == (("host", "h"), ("x-a", "a b"), ("x-empty", ""), ("x-blank", ""), ("x-colon", "a:b"))


def test_a_head_without_fields() -> None:
    (message,) = _parser(methods=("GET",)).receive_data(b"HTTP/1.0 204 No Content\r\n\r\n", 1.0)
    assert (message.status_code, message.status_phrase, message.version, message.headers) == (
        204, "No Content", "1.0", ())
