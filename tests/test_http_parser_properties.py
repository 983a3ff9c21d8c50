"""Property tests: nothing but ProtocolError escapes any input, and random splits give the same messages."""

from __future__ import annotations

from typing import Any

from http_wire import feed_split, request, response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packetshipper.modules.http.exchange import ExchangeLog
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig
from packetshipper.protocol import ProtocolError

CONFIG = HttpConfig.from_mapping({"include_body_for": ["text"], "max_message_size": 4096})

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ,;=/.", max_size=30).map(str.strip)
_headers = st.lists(st.tuples(_token.map(lambda t: "X-" + t), _value), max_size=4)
_body = st.binary(max_size=300)
_chunks = st.lists(st.binary(min_size=1, max_size=80), max_size=4)


@st.composite
def request_meanings(draw: st.DrawFn) -> tuple[bytes, str, int]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]))
    path = "/" + draw(st.text(alphabet="abcxyz0123456789/._-~", max_size=20))
    headers = draw(_headers) + [("Content-Type", draw(st.sampled_from(["text/plain", "application/json"])))]
    if draw(st.booleans()):
        chunks = draw(_chunks)
        return request(method, path, headers=headers, chunks=chunks), method, sum(map(len, chunks))
    body = draw(_body)
    return request(method, path, headers=headers, body=body), method, len(body)


@st.composite
def response_meanings(draw: st.DrawFn) -> tuple[bytes, int, int]:
    status = draw(st.sampled_from([200, 201, 204, 301, 304, 404, 500]))
    headers = draw(_headers) + [("Content-Type", "text/html")]
    if status in (204, 304):
        return response(status, "Phrase", headers=headers), status, 0
    if draw(st.booleans()):
        chunks = draw(_chunks)
        return response(status, "Phrase", headers=headers, chunks=chunks), status, sum(map(len, chunks))
    body = draw(_body)
    if not body:
        return response(status, "Phrase", headers=headers + [("Content-Length", "0")]), status, 0
    return response(status, "Phrase", headers=headers, body=body), status, len(body)


def _cuts(total: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=max(total, 0)), max_size=12)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(request_meanings(), min_size=1, max_size=4), st.data())
def test_requests_split_anywhere_parse_the_same(meanings: list[tuple[bytes, str, int]], data: st.DataObject) -> None:
    wire = b"".join(w for w, _, _ in meanings)
    whole = HttpStreamParser(CONFIG).receive_data(wire, 1.0)
    assert [(m.method, m.body_bytes, m.size) for m in whole] == [(meth, n, len(w)) for w, meth, n in meanings]
    split = feed_split(HttpStreamParser(CONFIG), wire, data.draw(_cuts(len(wire))))
    assert split == whole


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(response_meanings(), min_size=1, max_size=4), st.data())
def test_responses_split_anywhere_parse_the_same(meanings: list[tuple[bytes, int, int]],
                                                 data: st.DataObject) -> None:
    wire = b"".join(w for w, _, _ in meanings)

    def parser() -> HttpStreamParser:
        exchange = ExchangeLog(100, lambda name: None)
        for _ in meanings:
            exchange.request_sent("GET")
        return HttpStreamParser(CONFIG, exchange)

    whole = parser().receive_data(wire, 1.0)
    assert [(m.status_code, m.body_bytes, m.size) for m in whole] == [(s, n, len(w)) for w, s, n in meanings]
    assert feed_split(parser(), wire, data.draw(_cuts(len(wire)))) == whole


_events = st.lists(
    st.one_of(
        st.tuples(st.just("data"), st.binary(max_size=64)),
        st.tuples(st.just("gap"), st.integers(min_value=1, max_value=5000)),
        st.tuples(st.just("eof"), st.none()),
    ),
    max_size=30,
)


def _drive(steps: list[tuple[str, Any]]) -> None:
    """Feed steps as the core would: a ProtocolError makes it start over with a fresh parser."""
    parser = HttpStreamParser(CONFIG)
    for ts, (kind, arg) in enumerate(steps):
        try:
            if kind == "data":
                parser.receive_data(arg, float(ts))
            elif kind == "gap":
                parser.receive_gap(arg, float(ts))
            else:
                parser.receive_eof(float(ts))
        except ProtocolError:
            parser = HttpStreamParser(CONFIG)


@settings(max_examples=300)
@given(_events)
def test_arbitrary_bytes_raise_only_protocol_error(steps: list[tuple[str, Any]]) -> None:
    _drive(steps)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(request_meanings(), response_meanings()), min_size=1, max_size=3), st.data())
def test_mutated_messages_raise_only_protocol_error(meanings: list[tuple[bytes, Any, int]],
                                                    data: st.DataObject) -> None:
    wire = bytearray(b"".join(m[0] for m in meanings))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        position = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
        wire[position] = data.draw(st.sampled_from(b"\r\n :0aZ\x00\xff;9f"))
    cuts = sorted(set(data.draw(_cuts(len(wire)))))
    steps: list[tuple[str, Any]] = []
    start = 0
    for cut in cuts + [len(wire)]:
        steps.append(("data", bytes(wire[start:cut])))
        start = cut
        if data.draw(st.booleans()) and data.draw(st.booleans()):
            steps.append(("gap", data.draw(st.integers(min_value=1, max_value=100))))
    steps.append(("eof", None))
    _drive(steps)
