"""The mongodb parser, each case fed whole, one byte at a time, and followed by the start of another message.
Wire bytes come from tests/mongodb_wire.py, built from the MongoDB Wire Protocol specification."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import mongodb_wire as w
import pytest
from packetshipper.modules.mongodb.parser import NOT_READ, PACKET_LOSS, MongoStreamParser
from packetshipper.modules.mongodb.settings import MongoConfig
from packetshipper.protocol import Direction, ProtocolError

CONFIG = MongoConfig.from_mapping({"send_request": True, "send_response": True})
TAIL = w.op_query("db.c", {})[:9]


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def client(config: MongoConfig = CONFIG, counts: Counts | None = None) -> MongoStreamParser:
    return MongoStreamParser(config, Direction.REQUEST, counts if counts is not None else Counts())


def server(config: MongoConfig = CONFIG, counts: Counts | None = None) -> MongoStreamParser:
    return MongoStreamParser(config, Direction.RESPONSE, counts if counts is not None else Counts())


def three_ways(make: Callable[[], MongoStreamParser], data: bytes) -> list[Any]:
    whole = w.feed(make(), data)
    assert w.feed_bytewise(make(), data) == whole
    assert w.feed(make(), data + TAIL) == whole
    return whole


def test_op_query_find_with_skip_limit_and_projection() -> None:
    data = w.op_query("shop.orders", {"status": "open"}, skip=2, limit=5, fields={"total": 1}, request_id=7)
    (m,) = three_ways(client, data)
    assert (m.method, m.resource, m.request_id, m.size, m.expects_reply) == ("find", "shop.orders", 7, len(data), True)
    values = dict(m.fields)
    assert values["numberToSkip"] == 2 and values["numberToReturn"] == 5
    assert values["query"] == '{"status":"open"}' and values["returnFieldsSelector"] == '{"total":1}'


def test_op_query_command_names_method_and_collection() -> None:
    (m,) = three_ways(client, w.op_query("shop.$cmd", {"count": "orders", "query": {"a": 1}}, limit=-1))
    assert (m.method, m.resource, m.params) == ("count", "shop.orders", {"query": {"a": 1}})
    (ping,) = three_ways(client, w.op_query("admin.$cmd", {"ping": 1}))
    assert (ping.method, ping.resource) == ("ping", "admin.$cmd")


def test_op_reply_documents_and_errors() -> None:
    data = w.op_reply([{"n": 1}, {"n": 2}], response_to=7, cursor_id=99, starting_from=3)
    (m,) = three_ways(server, data)
    assert m.is_response and m.response_to == 7 and m.num_documents == 2 and m.error is None
    assert dict(m.fields) == {"cursorId": 99, "startingFrom": 3, "numberReturned": 2}
    assert m.documents == ({"n": 1}, {"n": 2})
    for reply, error in [({"$err": "bad query", "code": 2}, "bad query"),
                         ({"ok": 0.0, "errmsg": "ns not found"}, "ns not found"),
                         ({"ok": 1, "n": 0, "writeErrors": [{"index": 0, "code": 11000}]},
                          '[{"code":11000,"index":0}]')]:
        (failed,) = three_ways(server, w.op_reply([reply]))
        assert failed.error == error


def test_op_msg_body_and_document_sequence() -> None:
    data = w.op_msg({"insert": "orders", "ordered": True, "$db": "shop"},
                    sequences={"documents": [{"_id": 1}, {"_id": 2}, {"_id": 3}]}, request_id=11)
    (m,) = three_ways(client, data)
    assert (m.method, m.resource, m.num_documents, m.expects_reply) == ("insert", "shop.orders", 3, True)
    assert m.params == {"ordered": True, "documents": [{"_id": 1}, {"_id": 2}, {"_id": 3}]}


def test_without_send_request_pending_requests_keep_only_what_query_shows() -> None:
    quiet = MongoConfig.from_mapping({})
    data = w.op_msg({"insert": "orders", "ordered": True, "$db": "shop"}, sequences={"documents": [{"_id": 1}] * 50})
    (m,) = w.feed(client(quiet), data)
    assert m.params == {"ordered": True} and m.num_documents == 50
    (find,) = w.feed(client(quiet), w.op_msg({"find": "orders", "filter": {"a": 1}, "$db": "shop"}))
    assert find.params is None


def test_op_msg_more_to_come_request_expects_no_reply_and_checksum_is_skipped() -> None:
    flags = w.MORE_TO_COME | w.CHECKSUM_PRESENT
    (m,) = three_ways(client, w.op_msg({"delete": "orders", "$db": "shop"}, flags=flags))
    assert (m.method, m.more_to_come, m.expects_reply) == ("delete", True, False)


def test_op_msg_reply_with_a_cursor_batch() -> None:
    reply = {"cursor": {"firstBatch": [{"a": 1}, {"a": 2}], "id": 1234, "ns": "shop.orders"}, "ok": 1.0}
    (m,) = three_ways(server, w.op_msg(reply, response_to=11))
    assert m.is_response and m.documents == ({"a": 1}, {"a": 2}) and m.error is None
    assert dict(m.fields) == {"numberReturned": 2, "cursorId": 1234}
    (failed,) = three_ways(server, w.op_msg({"ok": 0.0, "errmsg": "not authorized", "code": 13}))
    assert failed.error == "not authorized"


def test_legacy_write_opcodes_expect_no_reply() -> None:
    data = (w.op_insert("shop.orders", [{"a": 1}, {"a": 2}]) + w.op_update("shop.orders", {"a": 1}, {"$set": {"b": 2}})
            + w.op_delete("shop.orders", {"a": 2}) + w.op_kill_cursors([5, 6]) + w.op_get_more("shop.orders", 77, 10))
    got = three_ways(client, data)
    assert [(m.method, m.expects_reply) for m in got] == [("insert", False), ("update", False), ("delete", False),
                                                          ("killCursors", False), ("getMore", True)]
    assert got[0].num_documents == 2
    assert dict(got[1].fields)["update"] == '{"$set":{"b":2}}' and dict(got[2].fields)["selector"] == '{"a":2}'
    assert dict(got[4].fields)["cursorId"] == 77


@pytest.mark.parametrize("compressor", [0, 2])
def test_op_compressed_is_read_like_the_message_inside(compressor: int) -> None:
    inner = w.op_msg({"find": "orders", "filter": {}, "$db": "shop"}, request_id=21)
    counts = Counts()
    (m,) = three_ways(lambda: client(counts=counts), w.op_compressed(inner, compressor))
    assert (m.method, m.resource, m.request_id, m.opcode) == ("find", "shop.orders", 21, w.OP_MSG)
    assert counts["compressed_messages"] == 3


def test_op_compressed_without_its_decompressor_is_counted_and_still_paired() -> None:
    counts = Counts()
    body = b"\xdd\x07\x00\x00" + b"\x10\x00\x00\x00" + b"\x07" + bytes(16)  # OP_MSG, 16 bytes, compressor 7
    (m,) = w.feed(client(counts=counts), w.frame(w.OP_COMPRESSED, body, request_id=31))
    assert m.request_id == 31 and m.expects_reply and counts["compressed_not_decoded"] == 1
    assert "not decoded" in m.notes[0]


def test_oversized_reply_is_skipped_unbuffered_and_reported_from_its_header() -> None:
    counts = Counts()
    parser = server(MongoConfig.from_mapping({"max_message_size": 1000}), counts)
    big = w.op_reply([{"blob": "x" * 5000}], response_to=9)
    got = w.feed_split(parser, big + w.op_reply([{"ok": 1}], response_to=10), [100, 2000, 4000])
    assert [(m.response_to, m.notes) for m in got] == [(9, (NOT_READ,)), (10, ())]
    assert got[0].size == len(big) and counts["oversized_messages"] == 1
    assert len(parser._buf) == 0  # noqa: SLF001


def test_gap_inside_a_message_reports_it_from_its_header() -> None:
    parser = server()
    reply = w.op_reply([{"blob": "y" * 500}], response_to=4)
    assert parser.receive_data(reply[:100], 1.0) == []
    (m,) = parser.receive_gap(200, 1.1)
    assert m.response_to == 4 and m.notes == (PACKET_LOSS,) and m.is_response
    (after,) = parser.receive_data(reply[300:] + w.op_reply([{}], response_to=5), 1.2)
    assert after.response_to == 5
    with pytest.raises(ProtocolError):
        server().receive_gap(10, 1.0)  # between messages: nowhere to resume


def test_undecodable_document_is_counted_and_the_message_kept() -> None:
    counts = Counts()
    bad = bytearray(w.op_reply([{"a": "b"}], response_to=3))
    bad[16 + 20 + 4] = 0x99  # after the header and reply fields: the document's first element type, invalid
    (m,) = w.feed(server(counts=counts), bytes(bad))
    assert m.response_to == 3 and m.documents == () and counts["documents_not_decoded"] >= 1


@pytest.mark.parametrize("data", [
    w.frame(2269, b"x" * 10),  # unknown opcode
    b"\x08\x00\x00\x00" + bytes(12),  # length below the header
    w.frame(w.OP_REPLY, b"\x00" * 20 + b"\x01\x00\x00\x00"),  # says one document, holds none
    w.frame(w.OP_MSG, b"\x00\x00\x00\x00\x05" + w.doc({})),  # section kind 5
    w.frame(w.OP_MSG, b"\x00\x00\x00\x00"),  # no body section
    w.frame(w.OP_QUERY, b"\x00\x00\x00\x00db.c"),  # collection name without NUL
    w.frame(w.OP_KILL_CURSORS, b"\x00\x00\x00\x00\x02\x00\x00\x00" + bytes(8)),  # two ids, one present
])
def test_malformed_messages_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        w.feed(client(), data + bytes(16))


def test_deeply_nested_documents_neither_recurse_away_nor_fail() -> None:
    from packetshipper.modules.mongodb.documents import to_json

    inner = w.doc({})
    for _ in range(800):  # valid BSON, deeper than a naive recursive renderer survives
        body = b"\x03a\x00" + inner + b"\x00"  # element: embedded document named "a"
        inner = struct.pack("<i", len(body) + 4) + body
    reply = w.frame(w.OP_REPLY, struct.pack("<iqii", 0, 0, 0, 1) + inner, response_to=2)
    (m,) = w.feed(server(), reply)
    assert m.response_to == 2 and m.num_documents == 1 and len(m.documents) == 1
    assert to_json(m.documents[0]).count("{") == 64  # MAX_DEPTH levels, then "[...]"


def test_close_inside_a_message_reports_it_from_its_header() -> None:
    counts = Counts()
    parser = server(counts=counts)
    assert parser.receive_data(w.op_reply([{"a": "b" * 100}], response_to=6)[:60], 1.0) == []
    (m,) = parser.receive_eof(1.1)
    assert m.response_to == 6 and m.is_response and "closed" in m.notes[0]
    assert counts["messages_cut_by_close"] == 1
    assert server().receive_eof(1.0) == []
