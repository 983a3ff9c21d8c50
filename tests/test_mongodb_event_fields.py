"""mongodb event fields: Packetbeat's reconstructed `query` / `request`, the `response` lines, the `-d mongodb` line."""

from __future__ import annotations

import mongodb_wire as w
from packetshipper.modules.mongodb.event import event_fields
from packetshipper.modules.mongodb.module import MongodbModule
from packetshipper.modules.mongodb.settings import MongoConfig
from test_mongodb_correlator import Session


def test_query_leaves_the_data_out_and_request_keeps_it() -> None:
    s = Session(send_request=True)
    s.client(w.op_msg({"insert": "orders", "ordered": True, "$db": "shop"}, sequences={"documents": [{"_id": 1}]},
                      request_id=1))
    (txn,) = s.server(w.op_msg({"n": 1, "ok": 1.0}, response_to=1))
    fields = event_fields(txn, MongoConfig.from_mapping({"send_request": True}))
    assert fields["query"] == 'shop.orders.insert({"ordered":true})'
    assert fields["request"] == 'shop.orders.insert({"documents":[{"_id":1}],"ordered":true})'
    assert (fields["method"], fields["resource"]) == ("insert", "shop.orders")


def test_legacy_find_with_skip_and_limit_and_response_lines() -> None:
    s = Session(send_response=True, max_docs=2, max_doc_length=12)
    s.client(w.op_query("shop.orders", {"a": 1}, skip=3, limit=4, request_id=2))
    (txn,) = s.server(w.op_reply([{"n": 1}, {"n": 22222222222}, {"n": 3}], response_to=2, cursor_id=5))
    config = MongoConfig.from_mapping({"send_response": True, "max_docs": 2, "max_doc_length": 12})
    fields = event_fields(txn, config)
    assert fields["query"] == "shop.orders.find().skip(3).limit(4)"
    assert fields["response"] == '{"n":1}\n{"n":2222222 ...\n[...]'  # 12 characters, then " ..."
    assert fields["mongodb"] == {"fullCollectionName": "shop.orders", "numberToSkip": 3, "numberToReturn": 4,
                                 "query": '{"a":1}', "cursorId": 5, "startingFrom": 0, "numberReturned": 3}


def test_debug_description() -> None:
    module = MongodbModule({"type": "mongodb"})
    s = Session()
    s.client(w.op_msg({"find": "orders", "$db": "shop"}, request_id=3))
    (ok,) = s.server(w.op_msg({"cursor": {"firstBatch": [{}, {}], "id": 0}, "ok": 1.0}, response_to=3))
    assert module.describe(ok) == "find shop.orders -> 2 documents"
    (fire_and_forget,) = s.client(w.op_insert("shop.orders", [{}]))
    assert module.describe(fire_and_forget) == "insert shop.orders -> (no reply expected)"
    s.client(w.op_msg({"drop": "orders", "$db": "shop"}, request_id=4))
    (failed,) = s.server(w.op_msg({"ok": 0.0, "errmsg": "ns not found"}, response_to=4))
    assert module.describe(failed) == "drop shop.orders -> error ns not found"
