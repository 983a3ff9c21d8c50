"""Pairing MongoDB requests and replies by requestID / responseTo; request-only opcodes; limits."""

from __future__ import annotations

from typing import Any

import mongodb_wire as w
from packetshipper.modules.mongodb.correlator import MongoCorrelator
from packetshipper.modules.mongodb.parser import MongoStreamParser
from packetshipper.modules.mongodb.settings import MongoConfig
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)

CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 27017))


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


class Session:
    def __init__(self, **options: Any) -> None:
        config = MongoConfig.from_mapping(options)
        self.counts = Counts()
        self.parsers = {d: MongoStreamParser(config, d, self.counts) for d in Direction}
        self.correlator = MongoCorrelator(CONN, config.max_pending_requests, 10.0, self.counts)
        self.ts = 100.0

    def send(self, direction: Direction, data: bytes) -> list[Any]:
        self.ts += 0.01
        out: list[Any] = []
        for message in self.parsers[direction].receive_data(data, self.ts):
            out += self.correlator.on_message(direction, message, self.ts)
        return out

    def client(self, data: bytes) -> list[Any]:
        return self.send(Direction.REQUEST, data)

    def server(self, data: bytes) -> list[Any]:
        return self.send(Direction.RESPONSE, data)


def test_replies_pair_by_response_to_in_any_order() -> None:
    s = Session()
    s.client(w.op_msg({"find": "a", "$db": "d"}, request_id=1) + w.op_msg({"find": "b", "$db": "d"}, request_id=2))
    (second,) = s.server(w.op_msg({"ok": 1.0}, response_to=2))
    (first,) = s.server(w.op_msg({"ok": 1.0}, response_to=1))
    assert (second.request.resource, first.request.resource) == ("d.b", "d.a")
    assert first.status is Status.OK and first.start < first.end


def test_error_reply_makes_an_error_transaction() -> None:
    s = Session()
    s.client(w.op_msg({"insert": "c", "$db": "d"}, sequences={"documents": [{"_id": 1}]}, request_id=5))
    (txn,) = s.server(w.op_msg({"ok": 1.0, "n": 0, "writeErrors": [{"index": 0, "code": 11000,
                                                                    "errmsg": "E11000 duplicate key"}]},
                               response_to=5))
    assert txn.status is Status.ERROR and "E11000" in txn.response.error


def test_requests_that_expect_no_reply_are_transactions_at_once() -> None:
    s = Session()
    got = s.client(w.op_insert("d.c", [{"a": 1}]) + w.op_msg({"update": "c", "$db": "d"}, flags=w.MORE_TO_COME,
                                                             request_id=9))
    assert [(t.request.method, t.response, t.status) for t in got] == [("insert", None, Status.OK),
                                                                      ("update", None, Status.OK)]


def test_exhaust_cursor_replies_each_make_a_transaction() -> None:
    s = Session()
    s.client(w.op_msg({"getMore": 1, "collection": "c", "$db": "d"}, request_id=3, flags=1 << 16))
    first = s.server(w.op_msg({"cursor": {"nextBatch": [{}], "id": 1}, "ok": 1.0}, request_id=50, response_to=3,
                              flags=w.MORE_TO_COME))
    second = s.server(w.op_msg({"cursor": {"nextBatch": [], "id": 0}, "ok": 1.0}, request_id=51, response_to=50))
    assert [(t.request.method, t.request.resource) for t in first + second] == [("getMore", "d.c")] * 2


def test_unmatched_both_ways_expiry_and_close() -> None:
    s = Session()
    (orphan,) = s.server(w.op_reply([{"ok": 1}], response_to=77))
    assert orphan.request is None and orphan.error == UNMATCHED_RESPONSE and orphan.status is Status.ERROR
    s.client(w.op_query("d.c", {}, request_id=1))
    assert s.correlator.expire(s.ts + 5) == []
    (late,) = s.correlator.expire(s.ts + 11)
    assert late.error == UNMATCHED_REQUEST
    s.client(w.op_query("d.c", {}, request_id=2))
    (closed,) = s.correlator.close(s.ts)
    assert closed.request.request_id == 2 and closed.error == UNMATCHED_REQUEST


def test_pending_requests_are_bounded() -> None:
    s = Session(max_pending_requests=4)
    published = []
    for i in range(10):
        published += s.client(w.op_query("d.c", {"i": i}, request_id=i))
    assert [t.request.request_id for t in published] == list(range(6))
    assert s.counts["pending_requests_overflow"] == 6
    (txn,) = s.server(w.op_reply([{}], response_to=9))
    assert txn.status is Status.OK


def test_a_reused_request_id_closes_the_earlier_request() -> None:
    s = Session()
    s.client(w.op_query("d.c", {}, request_id=1))
    (closed,) = s.client(w.op_query("d.other", {}, request_id=1))
    assert closed.request.resource == "d.c" and closed.error == UNMATCHED_REQUEST
    assert s.counts["duplicate_request_ids"] == 1
