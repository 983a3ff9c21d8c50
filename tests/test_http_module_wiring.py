"""The module's factories: both parsers of a connection share what HEAD responses need, and no more."""

from __future__ import annotations

import gc

import pytest
from http_wire import request, response
from packetshipper.modules.http import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate


def module(**options: object) -> MODULE:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "http", **options}))


def conn(port: int) -> Connection:
    return Connection("tcp", 4, Endpoint("10.0.0.1", port), Endpoint("10.0.0.2", 80), connection_id=port)


def test_head_response_body_rule_crosses_from_request_parser_to_response_parser() -> None:
    m = module()
    c = conn(1000)
    requests = m.stream_parser(Direction.REQUEST, c)
    responses = m.stream_parser(Direction.RESPONSE, c)
    requests.receive_data(request("HEAD", "/big") + request("GET", "/small"), 1.0)
    head_answer = response(200, "OK", headers=[("Content-Length", "1000000")])
    get_answer = response(200, "OK", body=b"tiny")
    out = responses.receive_data(head_answer + get_answer, 2.0)
    assert [(r.body_bytes, r.size) for r in out] == [(0, len(head_answer)), (4, len(get_answer))]


def test_connections_do_not_share_request_methods() -> None:
    m = module()
    first = m.stream_parser(Direction.REQUEST, conn(1))
    first.receive_data(request("HEAD", "/"), 1.0)
    other = m.stream_parser(Direction.RESPONSE, conn(2))
    (answer,) = other.receive_data(response(200, "OK", body=b"body"), 2.0)
    assert answer.body_bytes == 4


def test_a_fresh_parser_after_a_protocol_error_keeps_the_connections_log() -> None:
    m = module()
    c = conn(3)
    requests = m.stream_parser(Direction.REQUEST, c)  # alive, as the core keeps it
    requests.receive_data(request("HEAD", "/"), 1.0)
    broken = m.stream_parser(Direction.RESPONSE, c)
    with pytest.raises(ProtocolError):
        broken.receive_data(b"\x00garbage", 1.5)
    fresh = m.stream_parser(Direction.RESPONSE, c)
    (answer,) = fresh.receive_data(response(200, "OK", headers=[("Content-Length", "99")]), 2.0)
    assert answer.body_bytes == 0


def test_the_log_goes_away_with_the_parsers() -> None:
    m = module()
    parsers = [m.stream_parser(Direction.REQUEST, conn(4)), m.stream_parser(Direction.RESPONSE, conn(4))]
    assert len(m._exchanges) == 1
    del parsers
    gc.collect()
    assert len(m._exchanges) == 0


def test_module_counters_collect_parser_and_correlator_events() -> None:
    m = module(max_message_size=64)
    c = conn(5)
    with pytest.raises(ProtocolError):
        m.stream_parser(Direction.REQUEST, c).receive_data(request("GET", "/", headers=[("X", "y" * 100)]), 1.0)
    (msg,) = m.stream_parser(Direction.RESPONSE, c).receive_data(response(404, "Not Found"), 2.0)
    m.correlator(c).on_message(Direction.RESPONSE, msg, 2.0)
    assert m.stats == {"oversized_heads": 1, "unmatched_responses": 1}
