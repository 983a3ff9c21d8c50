"""A message's start time is when its own first byte arrived, not when stray line ends before it did.

http_unmatched.pcap (Packetbeat's corpus) has a 404 whose body runs 2 bytes past its Content-Length
(`Nope.  \\r\\n`, Content-Length 7): those CRLF sit in the buffer until the next response arrives 1 s
later. That response's time must be its own segment's, or the transaction's duration goes negative.
"""

from __future__ import annotations

from http_wire import response
from packetshipper.modules.http.exchange import ExchangeLog
from packetshipper.modules.http.messages import HttpResponse
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig


def _parser() -> HttpStreamParser:
    return HttpStreamParser(HttpConfig.from_mapping({}), ExchangeLog(100, lambda name: None))


def test_stray_crlf_after_a_body_does_not_date_the_next_response() -> None:
    first = response(404, "Not Found", headers=[("Content-Length", "7")], body=b"Nope.  ", content_length=False)
    second = response(200, "OK", body=b"yes")
    parser = _parser()
    out = parser.receive_data(first + b"\r\n", 12.0)
    out += parser.receive_data(second, 13.0)
    assert [type(m) for m in out] == [HttpResponse, HttpResponse]
    assert [m.status_code for m in out] == [404, 200]
    assert [m.ts for m in out] == [12.0, 13.0]


def test_stray_crlf_in_its_own_segment_then_the_next_response() -> None:
    parser = _parser()
    assert parser.receive_data(b"\r\n", 5.0) == []
    (message,) = parser.receive_data(response(204, "No Content"), 6.0)
    assert message.ts == 6.0


def test_a_response_split_after_its_first_byte_keeps_the_first_byte_time() -> None:
    wire = response(200, "OK", body=b"abc")
    parser = _parser()
    assert parser.receive_data(wire[:1], 1.0) == []
    (message,) = parser.receive_data(wire[1:], 2.0)
    assert message.ts == 1.0
