"""Packetbeat's mongodb capture files, with every assertion of its system test test_0025_mongodb_basic.

Values cross-checked with tshark's MongoDB dissector (message lengths, opcodes, numberReturned).
`events_from_pcap` validates every event against fields/.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"


def mongodb_events(pcap: str, port: int = 27017, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "mongodb", "ports": [port], **options}],
                                "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "mongodb"]


@pytest.mark.parametrize("pcap", ["mongodb_use_db.pcap", "mongodb_create_collection.pcap"])
def test_use_db_and_create_collection(pcap: str) -> None:
    assert mongodb_events(pcap)[0]["type"] == "mongodb"


def test_create_collection_names_the_command() -> None:
    create = [e for e in mongodb_events("mongodb_create_collection.pcap") if e["method"] == "create"]
    assert [e["resource"] for e in create] == ["testDB.testCollection"]


def test_find() -> None:
    o = mongodb_events("mongodb_find.pcap")[0]
    assert o["type"] == "mongodb"
    assert o["method"] == "find"
    assert o["status"] == "OK"
    assert o["resource"] == "testDB.testCollection"
    assert o["mongodb"]["numberReturned"] == 1  # tshark: mongo.number_returned


def test_find_one_without_request_and_response_by_default() -> None:
    o = mongodb_events("mongo_one_row.pcap")[0]
    assert o["type"] == "mongodb"
    assert o["method"] == "find"
    assert "request" not in o
    assert "response" not in o


def test_send_response() -> None:
    objs = mongodb_events("mongo_one_row.pcap", send_request=True, send_response=True)
    assert len(objs) == 1
    o = objs[0]
    assert "request" in o
    assert "response" in o
    assert len(o["response"].splitlines()) == 1
    assert o["source"]["bytes"] == 50
    assert o["destination"]["bytes"] == 514
    assert o["query"] == "test.restaurants.find().limit(1)"


def test_send_response_more_rows() -> None:
    objs = mongodb_events("mongodb_more_rows.pcap", send_request=True, send_response=True, max_docs=0)
    assert len(objs) == 1
    o = objs[0]
    assert "request" in o and "response" in o
    assert len(o["response"].splitlines()) == 101


def test_max_docs_setting() -> None:
    objs = mongodb_events("mongodb_more_rows.pcap", send_request=True, send_response=True, max_docs=10)
    assert len(objs) == 1
    o = objs[0]
    assert "request" in o and "response" in o
    assert len(o["response"].splitlines()) == 11
    assert o["response"].splitlines()[-1] == "[...]"


def test_max_doc_length_setting() -> None:
    objs = mongodb_events("mongodb_more_rows.pcap", send_request=True, send_response=True, max_doc_length=10)
    assert len(objs) == 1
    o = objs[0]
    assert "request" in o and "response" in o
    # limit lines to 10 chars, but add dots at the end
    assert all(len(line) < 15 for line in o["response"].splitlines())


def test_inserts() -> None:
    o = mongodb_events("mongodb_inserts.pcap")[1]
    assert o["type"] == "mongodb"
    assert o["method"] == "insert"
    assert o["resource"] == "testDB.testCollection"


def test_session() -> None:
    objs = mongodb_events("mongo_3.0_session.pcap")
    assert len([o for o in objs if o["method"] == "insert"]) == 2
    assert len([o for o in objs if o["method"] == "update"]) == 1
    assert len([o for o in objs if o["method"] == "findandmodify"]) == 1
    assert len([o for o in objs if o["method"] == "listCollections"]) == 5


def test_write_errors() -> None:
    o = mongodb_events("mongodb_insert_duplicate_key.pcap")[0]
    assert o["type"] == "mongodb"
    assert o["method"] == "insert"
    assert o["status"] == "Error"
    assert len(o["mongodb"]["error"]) > 0
    assert "E11000" in o["mongodb"]["error"]


def test_request_after_reply() -> None:
    objs = mongodb_events("mongodb_reply_request_reply.pcap")
    assert objs[0]["type"] == "mongodb"
    assert objs[0]["event"]["duration"] >= 0
    # The first reply answers a request sent before the capture began: published alone, as unmatched.
    assert objs[0]["error"]["message"] == "Unmatched response"
    assert objs[1]["method"] == "buildinfo" and objs[1]["status"] == "OK"


def test_opmsg(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        objs = mongodb_events("mongodb_op_msg_opcode.pcap", port=9991)
    assert objs[0]["type"] == "mongodb"
    assert sum("Unknown operation code: " in r.getMessage() for r in caplog.records) == 0
    assert len(objs) == 101  # tshark: 202 OP_MSG messages, requests and their replies
    assert {o["method"] for o in objs} == {"replSetHeartbeat", "ismaster"}


def test_unknown_opcode_flood(caplog: pytest.LogCaptureFixture) -> None:
    from packetshipper.modules.mongodb import parser

    parser._reported_opcodes.clear()  # noqa: SLF001 - other tests may have seen it already
    with caplog.at_level(logging.DEBUG):
        mongodb_events("mongodb_invalid_opcode_2269.pcap")
    counts: dict[str, int] = {}
    for record in caplog.records:
        for opcode in re.findall(r"Unknown operation code: (\d+)", record.getMessage()):
            counts[opcode] = counts.get(opcode, 0) + 1
    assert len(counts) > 0
    assert all(v == 1 for v in counts.values()), counts
