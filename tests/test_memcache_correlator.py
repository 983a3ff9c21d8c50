"""Pairing memcache requests and replies: TCP order, binary opaque matching with quiet requests,
noreply, unmatched both ways, the bounded queue, and UDP request ids with multi-datagram replies."""

from __future__ import annotations

from typing import Any

import memcache_wire as w
import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.memcache import MODULE
from packetshipper.protocol import (
    COMMON_SETTINGS,
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    ProtocolError,
    Transaction,
)
from packetshipper.settings import validate

TCP = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
UDP = Connection("udp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.2", 11211))
REQ, RESP = Direction.REQUEST, Direction.RESPONSE


def module(**config: Any) -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "memcache", **config}))


class Tcp:
    def __init__(self, **config: Any) -> None:
        self.module = module(**config)
        self.parsers = {d: self.module.stream_parser(d, TCP) for d in (REQ, RESP)}
        self.correlator = self.module.correlator(TCP)
        self.txns: list[Transaction[Any, Any]] = []

    def send(self, direction: Direction, data: bytes, ts: float) -> list[Transaction[Any, Any]]:
        out: list[Transaction[Any, Any]] = []
        for message in self.parsers[direction].receive_data(data, ts):
            out += self.correlator.on_message(direction, message, ts)
        self.txns += out
        return out

    def events(self, conn: Connection = TCP) -> list[dict[str, Any]]:
        events = [transaction_event("memcache", t, self.module.event_fields(t)) for t in self.txns]
        for event in events:
            assert validate_event(event) == []
        return events


def test_text_pipeline_pairs_in_order_with_statuses_as_packetbeat_gives_them() -> None:
    s = Tcp()
    s.send(REQ, w.store("set", "a", b"1") + w.line("incr a x") + w.line("get a b") + w.line("delete zz")
           + w.store("set", "b", b"2", noreply=True) + w.line("incr a 1"), 1.0)
    assert [t.request.command for t in s.txns] == ["set"]  # the noreply set needs no reply
    s.send(RESP, w.line("STORED") + w.line("CLIENT_ERROR invalid numeric delta argument")
           + w.value("a", b"1") + w.line("END") + w.line("NOT_FOUND") + w.line("2"), 1.5)
    events = s.events()
    shown = [(e["memcache"]["request"]["command"], e["status"], e.get("error", {}).get("message"))
             for e in events]
    assert shown == [("set", "OK", None), ("set", "OK", None),
                     ("incr", "Client Error", "CLIENT_ERROR invalid numeric delta argument"),
                     ("get", "OK", None), ("delete", "Error", "NOT_FOUND"), ("incr", "OK", None)]
    assert events[0]["memcache"]["request"]["noreply"] is True and "response" not in events[0]["memcache"]
    assert events[3]["memcache"]["response"]["keys"] == ["a"]
    assert events[3]["event"]["action"] == "memcache.load"


def test_binary_quiet_gets_without_hits_are_published_alone_when_a_later_reply_comes() -> None:
    s = Tcp()
    s.send(REQ, w.binary(w.GETKQ, key=b"x", opaque=1) + w.binary(w.GETKQ, key=b"k1", opaque=2)
           + w.binary(w.GETKQ, key=b"y", opaque=3) + w.binary(w.NOOP, opaque=4), 1.0)
    s.send(RESP, w.binary(w.GETKQ, request=False, key=b"k1", extras=b"\0\0\0\0", body=b"v", opaque=2)
           + w.binary(w.NOOP, request=False, opaque=4), 1.1)
    events = s.events()
    assert [(e["memcache"]["request"].get("keys"),
             "response" in e["memcache"], e["status"]) for e in events] == [
        (["x"], False, "OK"), (["k1"], True, "OK"), (["y"], False, "OK"), (None, True, "OK")]
    assert s.module.stats == {}


def test_a_non_quiet_binary_request_skipped_by_a_later_reply_is_an_unmatched_error() -> None:
    s = Tcp()
    s.send(REQ, w.binary(w.GET, key=b"a", opaque=1) + w.binary(w.GET, key=b"b", opaque=2), 1.0)
    s.send(RESP, w.binary(w.GET, request=False, opaque=2, status=1, body=b"Not found"), 1.1)
    first, second = s.txns
    assert first.response is None and first.error == UNMATCHED_REQUEST and first.status == "Server Error"
    assert first.notes == ("a later reply came first: this non-quiet request got no reply",)
    assert second.status == "Error" and second.error == "Key not found"


def test_a_reply_without_request_is_a_client_error_and_unanswered_requests_expire() -> None:
    s = Tcp(transaction_timeout="5s")
    (txn,) = s.send(RESP, w.line("STORED"), 1.0)
    assert (txn.status, txn.error) == ("Client Error", UNMATCHED_RESPONSE)
    s.send(REQ, w.line("get a"), 2.0)
    assert s.correlator.expire(6.0) == []
    (expired,) = s.correlator.expire(7.5)
    assert (expired.status, expired.error) == ("Server Error", UNMATCHED_REQUEST)


def test_the_request_queue_is_bounded_and_counted() -> None:
    s = Tcp(queue_max_messages=100)
    for i in range(10):
        s.send(REQ, w.line("get k") * 100, float(i))
        assert len(s.correlator._queue) <= 100
    assert s.module.stats == {"requests_evicted": 900, "unmatched_requests": 900}
    assert len(s.txns) == 900 and len(s.correlator.close(20.0)) == 100


class Udp:
    def __init__(self, **config: Any) -> None:
        self.module = module(**config)
        self.correlator = self.module.correlator(UDP)
        self.txns: list[Transaction[Any, Any]] = []

    def send(self, direction: Direction, datagram: bytes, ts: float) -> None:
        for message in self.module.parse_datagram(datagram, ts, direction, UDP):
            self.txns += self.correlator.on_message(direction, message, ts)


def test_udp_replies_spread_over_several_datagrams_are_reassembled_in_any_order() -> None:
    s = Udp()
    data = bytes(range(256)) * 20  # 5120 bytes: four datagrams of at most 1400
    s.send(REQ, w.UDP.pack(7, 0, 1, 0) + w.line("get big other"), 1.0)
    frames = w.udp_frames(7, w.value("big", data) + w.line("END"))
    assert len(frames) == 4
    for frame in (frames[2], frames[0], frames[3]):
        s.send(RESP, frame, 1.1)
    assert s.txns == []
    s.send(RESP, frames[1], 1.2)
    (txn,) = s.txns
    assert txn.response.keys == (b"big",) and txn.response.value_bytes == len(data)
    assert txn.request.keys == (b"big", b"other") and txn.status == "OK"


def test_udp_pairs_by_request_id_and_expires_unanswered_requests() -> None:
    s = Udp(udptransactiontimeout="2s")
    s.send(REQ, w.UDP.pack(1, 0, 1, 0) + w.line("get a"), 1.0)
    s.send(REQ, w.UDP.pack(2, 0, 1, 0) + w.line("get b"), 1.0)
    s.send(REQ, w.UDP.pack(3, 0, 1, 0) + w.store("set", "c", b"x", noreply=True), 1.0)
    s.send(RESP, w.UDP.pack(2, 0, 1, 0) + w.line("END"), 1.1)
    assert [(t.request.command, t.response is not None) for t in s.txns] == [("set", False), ("get", True)]
    assert s.txns[1].request.keys == (b"b",)
    (expired,) = s.correlator.expire(3.5)
    assert expired.request.keys == (b"a",) and expired.error == UNMATCHED_REQUEST


def test_udp_partial_messages_are_bounded_and_counted() -> None:
    s = Udp(max_message_size=2000)
    frames = w.udp_frames(9, w.value("big", b"z" * 5000) + w.line("END"))
    s.send(RESP, frames[0], 1.0)
    with pytest.raises(ProtocolError):
        s.send(RESP, frames[1], 1.1)
    assert s.module.stats == {"udp_messages_too_large": 1}
    s.send(RESP, w.udp_frames(10, b"STORED\r\n" * 400)[0], 1.2)
    assert s.correlator.close(5.0) == [] and s.module.stats["udp_messages_incomplete"] == 1


def test_a_64_bit_counter_beyond_a_long_is_left_out_with_a_note() -> None:
    s = Tcp()
    s.send(REQ, w.binary(w.INCREMENT, key=b"c", extras=w.counter_extras(1), opaque=1), 1.0)
    s.send(RESP, w.binary(w.INCREMENT, request=False, body=(2**64 - 1).to_bytes(8, "big"), opaque=1), 1.1)
    (event,) = s.events()
    assert "value" not in event["memcache"]["response"]
    assert event["notes"] == ["memcache.response.value 18446744073709551615 is beyond a long: left out"]


def test_udp_pending_requests_are_bounded_across_request_ids() -> None:
    s = Udp(queue_max_messages=3)
    for request_id in range(10):
        s.send(REQ, w.UDP.pack(request_id, 0, 1, 0) + w.line(f"get k{request_id}"), 1.0)
        if request_id % 4 == 3:  # now and then a reply, to the previous request id
            s.send(RESP, w.UDP.pack(request_id - 1, 0, 1, 0) + w.line("END"), 1.0)
    pending = sum(len(v) for v in s.correlator._pending.values())
    assert pending <= 3 and all(s.correlator._pending.values())
    assert s.module.stats["requests_evicted"] >= 1
    answered = [t for t in s.txns if t.response is not None]
    assert all(t.request is None or t.request.request_id == t.response.request_id for t in answered)
