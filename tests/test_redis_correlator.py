"""Pairing Redis commands with replies: order, pipelining, unmatched both ways, expiry, the bounded
command queue (Packetbeat's queue_max_messages / queue_max_bytes) and pub/sub pushes."""

from __future__ import annotations

from typing import Any

import redis_wire as w
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.message_queue import MessageQueue
from packetshipper.modules.redis import MODULE
from packetshipper.protocol import (
    COMMON_SETTINGS,
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
    Transaction,
)
from packetshipper.settings import validate

CONN = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 6379))
REQ, RESP = Direction.REQUEST, Direction.RESPONSE


def module(**config: Any) -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "redis", **config}))


class Session:
    """One connection through the module's own parsers and correlator, as the core drives them."""

    def __init__(self, **config: Any) -> None:
        self.module = module(**config)
        self.parsers = {d: self.module.stream_parser(d, CONN) for d in (REQ, RESP)}
        self.correlator = self.module.correlator(CONN)
        self.txns: list[Transaction[Any, Any]] = []

    def send(self, direction: Direction, data: bytes, ts: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        for message in self.parsers[direction].receive_data(data, ts):
            out += self.correlator.on_message(direction, message, ts)
        self.txns += out
        return out

    def events(self) -> list[dict[str, Any]]:
        events = [transaction_event("redis", t, self.module.event_fields(t)) for t in self.txns]
        for event in events:
            assert validate_event(event) == []
        return events


def test_a_pipelined_batch_with_an_error_pairs_each_reply_in_order() -> None:
    s = Session()
    s.send(REQ, w.command("SET", "a", "1") + w.command("INCR", "a") + w.command("LPUSH", "a", "x")
           + w.command("GET", "a"), 1.0)
    assert s.txns == []
    s.send(RESP, w.simple("OK") + w.integer(2)
           + w.error("WRONGTYPE Operation against a key holding the wrong kind of value") + w.bulk("2"), 1.5)
    events = s.events()
    assert [(e["method"], e["status"]) for e in events] == [("SET", "OK"), ("INCR", "OK"), ("LPUSH", "Error"),
                                                            ("GET", "OK")]
    assert events[2]["redis"] == {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"}
    assert events[2]["error"]["message"] == events[2]["redis"]["error"]
    assert events[3]["redis"] == {"return_value": "2"}
    assert all(e["event"]["duration"] == 500_000_000 for e in events)


def test_a_reply_without_a_command_is_an_unmatched_error_event() -> None:
    s = Session()
    (txn,) = s.send(RESP, w.simple("OK"), 1.0)
    assert (txn.status, txn.error) == (Status.ERROR, UNMATCHED_RESPONSE)
    (event,) = s.events()
    assert event["redis"] == {"return_value": "OK"} and "method" not in event
    assert s.module.stats == {"unmatched_responses": 1}


def test_commands_never_answered_are_published_at_close_and_on_idle_expiry() -> None:
    s = Session(transaction_timeout="5s")
    s.send(REQ, w.command("GET", "a"), 1.0)
    s.send(REQ, w.command("GET", "b"), 3.0)
    assert s.correlator.expire(7.0) == []  # idle for 4 s only: a pipelined reply may still come
    expired = s.correlator.expire(8.5)
    assert [(t.request.resource, t.error) for t in expired] == [(b"a", UNMATCHED_REQUEST), (b"b", UNMATCHED_REQUEST)]
    s.send(REQ, w.command("PING"), 9.0)
    (closed,) = s.correlator.close(9.5)
    assert closed.request.method == "PING" and closed.status == Status.ERROR


def test_unanswered_commands_stay_within_queue_max_messages_and_are_counted() -> None:
    s = Session(queue_max_messages=1000)
    batch = w.command("GET", "key") * 1000
    published = 0
    for i in range(20):
        published += len(s.send(REQ, batch, float(i)))
        assert len(s.correlator._queue) <= 1000
    assert published == 19_000
    assert s.module.stats == {"requests_evicted": 19_000, "unmatched_requests": 19_000}
    assert len(s.correlator.close(200.0)) == 1000


def test_queue_max_bytes_bounds_the_kept_commands_and_replies_to_evicted_ones_are_dropped() -> None:
    s = Session(queue_max_bytes=100)
    for i in range(5):
        s.send(REQ, w.command("SET", f"k{i}", "v" * 40), float(i))  # 47 bytes of query each
    assert s.correlator._queue.bytes <= 100
    evicted = [t.request.resource for t in s.txns]
    assert evicted == [b"k0", b"k1", b"k2"]
    s.txns.clear()
    # Replies come for all five: the first three answer evicted commands; the last two pair correctly.
    s.send(RESP, w.simple("OK") * 3 + w.integer(4) + w.integer(5), 10.0)
    assert [(t.request.resource, t.response.text) for t in s.txns] == [(b"k3", b"4"), (b"k4", b"5")]
    assert s.module.stats["replies_to_evicted_requests"] == 3


def test_message_queue_keeps_a_single_oversized_message_alone() -> None:
    class M:
        def __init__(self, kept: int) -> None:
            self.kept = kept

    q: MessageQueue[M] = MessageQueue(10, 100)
    small = [M(30), M(30)]
    for m in small:
        assert q.append(m) == []
    big = M(500)
    assert q.append(big) == small
    assert len(q) == 1 and q.bytes == 500
    assert q.append(M(1)) == [big]


def test_resp2_pubsub_messages_are_pushes_neither_unmatched_nor_errors() -> None:
    s = Session()
    s.send(REQ, w.command("SUBSCRIBE", "news", "sport"), 1.0)
    s.send(RESP, w.array(w.bulk("subscribe"), w.bulk("news"), w.integer(1))
           + w.array(w.bulk("subscribe"), w.bulk("sport"), w.integer(2)), 1.1)
    s.send(RESP, w.array(w.bulk("message"), w.bulk("news"), w.bulk("hello")) * 3, 2.0)
    s.send(REQ, w.command("PING"), 3.0)
    s.send(RESP, w.array(w.bulk("pong"), w.bulk("")), 3.1)
    s.send(REQ, w.command("UNSUBSCRIBE"), 4.0)
    s.send(RESP, w.array(w.bulk("unsubscribe"), w.bulk("news"), w.integer(1))
           + w.array(w.bulk("unsubscribe"), w.bulk("sport"), w.integer(0)), 4.1)
    s.send(REQ, w.command("LRANGE", "l", "0", "-1"), 5.0)  # no longer subscribed: an array like a message
    s.send(RESP, w.array(w.bulk("message"), w.bulk("a"), w.bulk("b")), 5.1)
    events = s.events()
    assert [(e["method"], e["status"], e["redis"]["return_value"]) for e in events] == [
        ("SUBSCRIBE", "OK", "[subscribe, news, 1]"),
        ("PING", "OK", "[pong, ]"),
        ("UNSUBSCRIBE", "OK", "[unsubscribe, news, 1]"),
        ("LRANGE", "OK", "[message, a, b]"),
    ]
    assert s.module.stats == {"pushes": 5}  # 3 messages, the 2nd subscribe and 2nd unsubscribe confirmation


def test_resp3_pushes_interleave_with_replies_and_can_be_published() -> None:
    s = Session(include_pushes=True)
    s.send(REQ, w.command("GET", "k"), 1.0)
    s.send(RESP, w.push(w.bulk("invalidate"), w.array(w.bulk("k"))) + w.bulk("v"), 1.2)
    s.send(RESP, w.push(w.bulk("message"), w.bulk("ch"), w.bulk("hi")), 2.0)
    events = s.events()
    assert [(e.get("method"), e["status"], e["redis"]) for e in events] == [
        (None, "OK", {"return_value": "[invalidate, [k]]", "push": "invalidate"}),
        ("GET", "OK", {"return_value": "v"}),
        (None, "OK", {"return_value": "[message, ch, hi]", "push": "message"}),
    ]
    assert events[2]["resource"] == "ch"
    assert "error" not in events[0] and s.module.stats == {"pushes": 2}


def test_a_subscribed_capture_begun_midway_gives_pushes_not_unmatched_replies() -> None:
    s = Session()
    s.send(RESP, w.array(w.bulk("pmessage"), w.bulk("n*"), w.bulk("news"), w.bulk("x")), 1.0)
    assert s.txns == [] and s.module.stats == {"pushes": 1}


def test_truncated_and_gapped_messages_carry_notes() -> None:
    s = Session(max_message_size=16)
    s.send(REQ, w.command("SET", "k", "v" * 100), 1.0)
    s.send(RESP, w.simple("OK"), 1.1)
    (event,) = s.events()
    assert event["query"] == "SET k " + "v" * 10
    assert event["notes"] == ["Request longer than max_message_size: the rest was counted, not kept"]
    assert event["status"] == "OK"
    assert s.module.stats == {"messages_truncated": 1}


def test_client_reply_off_and_skip_leave_commands_unanswered_without_shifting_the_pairing() -> None:
    s = Session()
    s.send(REQ, w.command("CLIENT", "REPLY", "SKIP") + w.command("SET", "a", "1") + w.command("GET", "a")
           + w.command("CLIENT", "REPLY", "OFF") + w.command("INCR", "n") + w.command("CLIENT", "REPLY", "ON")
           + w.command("PING"), 1.0)
    s.send(RESP, w.bulk("1") + w.simple("OK") + w.simple("PONG"), 1.1)  # what the server answers
    events = s.events()
    # In the order published: the unanswered ones at once, the others as their replies come.
    assert [(e["query"], e["status"], e.get("redis", {}).get("return_value")) for e in events] == [
        ("CLIENT REPLY SKIP", "OK", None), ("SET a 1", "OK", None), ("CLIENT REPLY OFF", "OK", None),
        ("INCR n", "OK", None), ("GET a", "OK", "1"), ("CLIENT REPLY ON", "OK", "OK"), ("PING", "OK", "PONG")]
    assert events[1]["notes"] == ["no reply expected (CLIENT REPLY OFF or SKIP)"] and "error" not in events[1]
    assert s.module.stats == {}
