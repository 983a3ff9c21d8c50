"""Bad input, limits, gaps and early close: a ProtocolError or a counted, noted outcome, never a crash."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from http_wire import feed_bytewise, feed_whole, head_size, request, response
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig
from packetshipper.protocol import ProtocolError


def _parser(counts: Counter[str] | None = None, **config: Any) -> HttpStreamParser:
    counter = counts if counts is not None else Counter()
    return HttpStreamParser(HttpConfig.from_mapping(config), count=lambda name: counter.update([name]))


BAD_STREAMS = {
    "binary garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "lower-case HTTP version": b"GET / http/1.1\r\n\r\n",
    "no request target": b"GET HTTP/1.1\r\n\r\n",
    "HTTP/2 connection preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "status code not three digits": b"HTTP/1.1 20 OK\r\n\r\n",
    "header without a colon": b"GET / HTTP/1.1\r\nHost example.com\r\n\r\n",
    "space before the colon": b"GET / HTTP/1.1\r\nHost : example.com\r\n\r\n",
    "fold before any header": b"GET / HTTP/1.1\r\n  folded\r\n\r\n",
    "non-numeric Content-Length": b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    "conflicting Content-Length": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "request with gzip-only Transfer-Encoding": b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk data without CRLF": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    "bad trailer line": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
}


@pytest.mark.parametrize("wire", BAD_STREAMS.values(), ids=BAD_STREAMS.keys())
def test_malformed_stream_raises_protocol_error_whole(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_whole(_parser(), wire)


@pytest.mark.parametrize("wire", BAD_STREAMS.values(), ids=BAD_STREAMS.keys())
def test_malformed_stream_raises_protocol_error_bytewise(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_bytewise(_parser(), wire)


def test_garbage_is_rejected_on_its_first_byte() -> None:
    with pytest.raises(ProtocolError):
        _parser().receive_data(b"\x00", 1.0)


def test_bad_start_line_is_rejected_before_the_head_completes() -> None:
    parser = _parser()
    with pytest.raises(ProtocolError):
        parser.receive_data(b"GET / FTP/1.0\r\nHost: a\r\n", 1.0)


def test_head_over_max_message_size_is_counted_and_refused() -> None:
    counts: Counter[str] = Counter()
    wire = request("GET", "/", headers=[("X-Pad", "p" * 200)])
    parser = _parser(counts, max_message_size=100)
    with pytest.raises(ProtocolError, match="max_message_size"):
        feed_whole(parser, wire)
    assert counts["oversized_heads"] == 1


def test_unterminated_head_over_limit_is_refused_without_waiting() -> None:
    counts: Counter[str] = Counter()
    parser = _parser(counts, max_message_size=64)
    with pytest.raises(ProtocolError):
        feed_whole(parser, b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 100)
    assert counts["oversized_heads"] == 1


def test_body_over_max_message_size_keeps_counting_but_stops_keeping() -> None:
    counts: Counter[str] = Counter()
    body = b"0123456789" * 50
    wire = response(200, "OK", headers=[("Content-Type", "text/plain")], body=body)
    limit = head_size(wire) + 100
    parser = _parser(counts, max_message_size=limit, include_body_for=["text/plain"])
    (msg,) = feed_bytewise(parser, wire)
    assert (msg.body_bytes, msg.size) == (len(body), len(wire))
    assert msg.body == body[:100]
    assert counts["bodies_truncated"] == 1


# --- gaps ---------------------------------------------------------------------------------------------
def test_gap_inside_a_content_length_body_keeps_the_message_with_a_note() -> None:
    body = b"a" * 1000
    wire = response(200, "OK", body=body)
    head = head_size(wire)
    parser = _parser()
    assert parser.receive_data(wire[: head + 100], 1.0) == []
    assert parser.receive_gap(500, 1.1) == []
    (msg,) = parser.receive_data(wire[head + 600 :], 1.2)
    assert msg.notes == ("Packet loss while capturing the response",)
    assert (msg.body_bytes, msg.size) == (len(body), len(wire))


def test_two_gaps_give_one_note() -> None:
    wire = request("POST", "/", body=b"b" * 100)
    head = head_size(wire)
    parser = _parser()
    parser.receive_data(wire[: head + 10], 1.0)
    parser.receive_gap(10, 1.0)
    parser.receive_data(wire[head + 20 : head + 30], 1.0)
    parser.receive_gap(10, 1.0)
    (msg,) = parser.receive_data(wire[head + 40 :], 1.0)
    assert msg.notes == ("Packet loss while capturing the request",)


def test_gap_reaching_the_end_of_the_body_completes_the_message() -> None:
    wire = response(200, "OK", body=b"z" * 50)
    parser = _parser()
    parser.receive_data(wire[: head_size(wire) + 10], 1.0)
    (msg,) = parser.receive_gap(40, 2.0)
    assert (msg.body_bytes, msg.end_ts) == (50, 2.0)


def test_gap_past_the_end_of_the_body_loses_position_until_resync() -> None:
    wire = response(200, "OK", body=b"z" * 50)
    parser = _parser()
    parser.receive_data(wire[: head_size(wire) + 10], 1.0)
    (msg,) = parser.receive_gap(45, 2.0)
    assert msg.body_bytes == 50
    with pytest.raises(ProtocolError):
        parser.receive_data(response(200, "OK"), 3.0)


def test_gap_in_close_delimited_body_is_counted_in() -> None:
    wire = response(200, "OK", version="1.0", body=b"q" * 30, content_length=False)
    parser = _parser()
    parser.receive_data(wire, 1.0)
    parser.receive_gap(1000, 1.5)
    (msg,) = parser.receive_eof(2.0)
    assert msg.body_bytes == 1030
    assert msg.notes == ("Packet loss while capturing the response",)


def test_gap_inside_a_chunk_keeps_the_message() -> None:
    wire = response(200, "OK", chunks=[b"c" * 40, b"d" * 5])
    data_start = head_size(wire) + len(b"28\r\n")
    parser = _parser()
    parser.receive_data(wire[: data_start + 10], 1.0)
    parser.receive_gap(30, 1.0)  # the rest of the first chunk, exactly
    (msg,) = parser.receive_data(wire[data_start + 40 :], 1.0)
    assert msg.body_bytes == 45
    assert msg.notes == ("Packet loss while capturing the response",)


def test_gap_in_the_head_raises() -> None:
    parser = _parser()
    parser.receive_data(b"GET / HTTP/1.1\r\nHo", 1.0)
    with pytest.raises(ProtocolError):
        parser.receive_gap(10, 1.0)


def test_gap_between_messages_raises() -> None:
    parser = _parser()
    feed_whole(parser, request("GET", "/"))
    with pytest.raises(ProtocolError):
        parser.receive_gap(10, 1.0)


# --- early close --------------------------------------------------------------------------------------
def test_close_inside_a_content_length_body_emits_with_a_note() -> None:
    counts: Counter[str] = Counter()
    wire = response(200, "OK", body=b"k" * 100)
    parser = _parser(counts)
    parser.receive_data(wire[:-60], 1.0)
    (msg,) = parser.receive_eof(2.0)
    assert msg.body_bytes == 40
    assert msg.notes == ("Connection closed before the end of the response",)
    assert counts["messages_cut_by_close"] == 1


def test_close_inside_a_head_is_counted_not_emitted() -> None:
    counts: Counter[str] = Counter()
    parser = _parser(counts)
    parser.receive_data(b"GET /x HTTP/1.1\r\nHost:", 1.0)
    assert parser.receive_eof(2.0) == []
    assert counts["heads_cut_by_close"] == 1


def test_eof_on_an_idle_stream_is_quiet() -> None:
    counts: Counter[str] = Counter()
    parser = _parser(counts)
    feed_whole(parser, request("GET", "/"))
    assert parser.receive_eof(2.0) == []
    assert not counts
