"""The mongodb tests' wire builders (tests/mongodb_wire.py) agree with tshark's MongoDB dissector, so the
parser tests that use them are checked against an independent reading of the wire protocol."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mongodb_wire as w
import pytest
from packetshipper.pcapgen import write_pcap
from test_pgsql_stream_anomalies import Conversation

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def test_builders_match_tshark(tmp_path: Path) -> None:
    c = Conversation(port=27017)
    c.client(w.op_query("shop.orders", {"a": 1}, skip=2, limit=5, request_id=7))
    c.server(w.op_reply([{"n": 1}, {"n": 2}], response_to=7, request_id=8, cursor_id=99))
    c.client(w.op_msg({"insert": "orders", "$db": "shop"}, sequences={"documents": [{"_id": 1}, {"_id": 2}]},
                      request_id=9))
    c.client(w.op_compressed(w.op_msg({"ping": 1, "$db": "admin"}, request_id=10)))
    c.client(w.op_get_more("shop.orders", 99, 10, request_id=11) + w.op_kill_cursors([99], request_id=12))
    c.client(w.op_update("shop.orders", {"a": 1}, {"$set": {"b": 2}}, request_id=13)
             + w.op_delete("shop.orders", {"a": 2}, request_id=14) + w.op_insert("shop.orders", [{"x": 1}], request_id=15))
    path = tmp_path / "mongodb.pcap"
    write_pcap(str(path), c.frames)
    fields = ["mongo.opcode", "mongo.request_id", "mongo.response_to", "mongo.message_length",
              "mongo.full_collection_name", "mongo.number_to_skip", "mongo.number_to_return", "mongo.number_returned",
              "mongo.cursor_id", "mongo.msg.sections.section.kind", "mongo.compression.original_opcode"]
    args = ["tshark", "-r", str(path), "-d", "tcp.port==27017,mongo", "-Y", "mongo", "-T", "fields",
            "-E", "separator=|"] + [a for f in fields for a in ("-e", f)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    assert [line.split("|") for line in out.splitlines()] == [
        ["2004", "0x00000007", "0x00000000", "52", "shop.orders", "2", "5", "", "", "", ""],
        ["1", "0x00000008", "0x00000007", "60", "", "", "", "2", "99", "", ""],
        ["2013", "0x00000009", "0x00000000", "102", "", "", "", "", "", "0,1", ""],
        ["2012", "0x0000000a", "0x00000000", "62", "", "", "", "", "", "0", "2013"],
        ["2005,2007", "0x0000000b,0x0000000c", "0x00000000,0x00000000", "44,32", "shop.orders", "", "10", "",
         "99,99", "", ""],
        ["2001,2006,2002", "0x0000000d,0x0000000e,0x0000000f", "0x00000000,0x00000000,0x00000000", "71,48,44",
         "shop.orders,shop.orders,shop.orders", "", "", "", "", "", ""],
    ]
