"""AMQP transactions: synchronous pairs per channel, no-wait and acks at once, content published as it
completes, close errors (and their expiry note), hidden connection set-up, bounds; events valid."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from packetshipper.event import transaction_event
from packetshipper.modules.amqp import MODULE
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import validate
from test_amqp_parser import (
    PROTOCOL_HEADER,
    channel_close,
    declare_ok,
    deliver,
    method,
    publish,
    queue_declare,
)

CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 40000), Endpoint("192.0.2.2", 5672),
                  community_id="1:xDRQZvk3ErEhBDslXv1c6EKI804=")
C, S = Direction.REQUEST, Direction.RESPONSE


def run(script: list[tuple[Direction, bytes]], **options: Any) -> tuple[list[dict[str, Any]], Any]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "amqp", **options}))
    parsers = {d: module.stream_parser(d, CONN) for d in (C, S)}
    correlator = module.correlator(CONN)
    txns = []
    for ts, (direction, data) in enumerate(script):
        for msg in parsers[direction].receive_data(data, float(ts)):
            txns += correlator.on_message(direction, msg, float(ts))
    txns += correlator.close(100.0)
    return [transaction_event("amqp", t, module.event_fields(t)) for t in txns], module


def test_synchronous_pair_merges_request_and_answer(assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    events, _ = run([(C, PROTOCOL_HEADER + queue_declare("q")), (S, declare_ok("q", 5, 1))])
    (e,) = events
    assert_valid_event(e)
    assert e["method"] == "queue.declare" and e["event"]["action"] == "amqp.queue.declare"
    assert e["amqp"]["message-count"] == 5 and e["amqp"]["consumer-count"] == 1 and e["amqp"]["queue"] == "q"
    assert e["status"] == "OK" and e["event"]["duration"] == 1_000_000_000
    assert e["source"]["ip"] == "192.0.2.1" and e["destination"]["port"] == 5672


def test_answers_pair_by_channel() -> None:
    events, _ = run([(C, PROTOCOL_HEADER + queue_declare("a", channel=1) + queue_declare("b", channel=2)),
                     (S, declare_ok("b", channel=2) + declare_ok("a", channel=1))])
    assert [(e["amqp"]["queue"], e["event"]["start"] < e["event"]["end"]) for e in events] == [("b", True), ("a", True)]


def test_no_wait_published_at_once_and_ack() -> None:
    ack = method(60, 80, struct.pack(">Q", 9) + b"\x01")
    events, _ = run([(C, PROTOCOL_HEADER + queue_declare("q", no_wait=True) + ack)])
    assert [(e["method"], e["event"]["duration"]) for e in events] == [("queue.declare", 0), ("basic.ack", 0)]
    assert events[1]["amqp"] == {"delivery-tag": 9, "multiple": True}


def test_publish_and_deliver(assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    body = b"x" * 1500
    events, _ = run([(C, PROTOCOL_HEADER + publish("ex", "rk", body, {"content-type": "application/json",
                                                                       "user-id": "guest"})),
                     (S, deliver(3, "ex", "rk", b"\x01\x02", {"content-type": "application/octet-stream"}))],
                    send_request=True, send_response=True)
    pub, dlv = events
    for e in events:
        assert_valid_event(e)
    assert pub["request"] == "x" * 1000 + " [...]" and pub["user"]["id"] == "guest"
    assert pub["source"]["bytes"] == 1500 and pub["source"]["ip"] == "192.0.2.1"
    assert dlv["response"] == "1 2" and dlv["amqp"]["delivery-tag"] == 3
    assert dlv["destination"]["bytes"] == 2 and dlv["source"]["ip"] == "192.0.2.1"  # the connection's orientation


def test_close_error_from_the_server_is_an_error_event_with_its_sender_as_source() -> None:
    events, _ = run([(C, PROTOCOL_HEADER), (S, channel_close(404, "NOT_FOUND", 40, 10)), (C, method(20, 41, b""))])
    (e,) = events
    assert e["method"] == "channel.close" and e["status"] == "Error" and e["amqp"]["reply-code"] == 404
    assert e["source"]["port"] == 5672


def test_close_error_without_close_ok_is_published_with_a_note() -> None:
    events, _ = run([(C, PROTOCOL_HEADER), (S, channel_close(406, "PRECONDITION_FAILED", 50, 10))])
    (e,) = events
    assert e["status"] == "Error" and e["error"]["message"] == "Close-ok method not received by sender"


def test_clean_close_and_connection_setup_hidden_by_default_shown_on_request() -> None:
    tune = method(10, 30, struct.pack(">HIH", 2047, 131072, 60), channel=0)
    tune_ok = method(10, 31, struct.pack(">HIH", 2047, 131072, 60), channel=0)
    script = [(C, PROTOCOL_HEADER), (S, tune), (C, tune_ok + channel_close(200, "", 0, 0)), (S, method(20, 41, b""))]
    assert run(script)[0] == []
    shown, _ = run(script, hide_connection_information=False)
    assert [e["method"] for e in shown] == ["connection.tune", "channel.close"]
    assert shown[0]["amqp"] == {"channel-max": 2047, "frame-max": 131072, "heartbeat": 60}
    assert all(e["status"] == "OK" for e in shown)


def test_unanswered_request_dropped_and_counted_unmatched_response_counted() -> None:
    events, module = run([(C, PROTOCOL_HEADER + queue_declare("q")), (S, declare_ok("other", channel=7))])
    assert events == []
    assert module.stats["unanswered_requests"] == 1 and module.stats["unmatched_responses"] == 1


def test_pending_requests_bounded() -> None:
    events, module = run([(C, PROTOCOL_HEADER + b"".join(queue_declare(f"q{i}") for i in range(5)))],
                         max_pending_requests=2)
    assert module.stats["pending_requests_overflow"] == 3 and module.stats["unanswered_requests"] == 2


def test_basic_return_is_an_error() -> None:
    ret = method(60, 50, struct.pack(">H", 312) + b"\x08NO_ROUTE" + b"\x01e" + b"\x01k")
    header = publish("e", "k", b"")[len(method(60, 40, b"\0\0\x01e\x01k\x00")):]
    events, _ = run([(C, PROTOCOL_HEADER), (S, ret + header)])
    (e,) = events
    assert e["method"] == "basic.return" and e["status"] == "Error" and e["amqp"]["reply-code"] == 312
