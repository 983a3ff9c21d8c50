"""Packetbeat's Cassandra captures with every assertion of its system test test_0062_cassandra.py, and
its sample output (sample_outputs/cassandra.json) for the transaction it shows.

Packetbeat's `bytes_in`/`bytes_out` are `source.bytes`/`destination.bytes`, its `port` is
`destination.port`, and its flattened `cassandra.request.headers.op` is the nested path here.

Two deliberate differences, both where Packetbeat is wrong by the specification:
- Packetbeat pairs frames first-in first-out; the spec (2.3) pairs them by stream id. In the compressed
  capture the client pipelines QUERY stream 0 (system.local) and QUERY stream 64 (system.peers) and the
  server answers 64 first: Packetbeat's third event joins the stream-0 query to the stream-64 answer.
  Here the third event is the stream-64 query with its own answer (every response assertion of
  Packetbeat's objs[2] holds for it), and the stream-0 query gets its 5,418-byte answer.
- Packetbeat's `num_rows` is the [int] right after the table spec, which is the first column spec's
  bytes (290917, 879461); here the column specs are read and `num_rows` is the row count, checked
  against tshark's CQL dissector (cql.result.rows.row_count) in test_cassandra_vs_tshark.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packetshipper.modules.cassandra import compression
from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
V4 = PCAPS / "cassandra" / "v4"


def cassandra_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "cassandra", "ports": [9042], "send_request": True,
                                               "send_response": True, "send_request_header": True,
                                               "send_response_header": True, **options}],
                                "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(V4 / pcap), config) if e["type"] == "cassandra"]


def headers(o: dict[str, Any], side: str) -> dict[str, Any]:
    return dict(o["cassandra"][side]["headers"])


def hdr(version: str, op: str, length: int, flags: str, stream: int) -> dict[str, Any]:
    return {"version": version, "op": op, "length": length, "flags": flags, "stream": stream}


def test_create_keyspace() -> None:
    o = cassandra_events("cassandra_create_keyspace.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == ("CREATE KEYSPACE mykeyspace WITH REPLICATION = "
                                                  "{ 'class' : 'SimpleStrategy', 'replication_factor' : 1 };")
    assert headers(o, "request") == hdr("4", "QUERY", 124, "Default", 20)
    result = o["cassandra"]["response"]["result"]
    assert result["type"] == "schemaChanged"
    assert result["schema_change"]["change"] == "CREATED"
    assert result["schema_change"]["keyspace"] == "mykeyspace"
    assert result["schema_change"]["target"] == "KEYSPACE"
    assert headers(o, "response") == hdr("4", "RESULT", 35, "Default", 20)


def test_create_table() -> None:
    o = cassandra_events("cassandra_create_table.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == ("CREATE TABLE users (\n  user_id int PRIMARY KEY,\n"
                                                  "  fname text,\n  lname text\n);")
    assert headers(o, "request") == hdr("4", "QUERY", 98, "Default", 49)
    assert o["cassandra"]["response"]["result"]["type"] == "schemaChanged"
    assert headers(o, "response") == hdr("4", "RESULT", 39, "Default", 49)


def test_insert_data() -> None:
    o = cassandra_events("cassandra_insert.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == ("INSERT INTO users (user_id,  fname, lname)\n"
                                                  "  VALUES (1745, 'john', 'smith');")
    assert headers(o, "request") == hdr("4", "QUERY", 97, "Default", 252)
    assert o["cassandra"]["response"]["result"]["type"] == "void"
    assert headers(o, "response") == hdr("4", "RESULT", 4, "Default", 252)


def test_select_data() -> None:
    o = cassandra_events("cassandra_select.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == "SELECT * FROM users;"
    assert headers(o, "request") == hdr("4", "QUERY", 41, "Default", 253)
    assert o["cassandra"]["response"]["result"]["type"] == "rows"
    assert headers(o, "response") == hdr("4", "RESULT", 89, "Default", 253)


def test_create_index() -> None:
    o = cassandra_events("cassandra_create_index.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == "CREATE INDEX ON users (lname);"
    assert headers(o, "request") == hdr("4", "QUERY", 51, "Default", 92)
    assert o["cassandra"]["response"]["result"]["type"] == "schemaChanged"
    assert headers(o, "response") == hdr("4", "RESULT", 39, "Default", 92)


def test_trace_error() -> None:
    o = cassandra_events("cassandra_trace_err.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["source"]["bytes"] == 55
    assert o["destination"]["bytes"] == 62
    assert o["cassandra"]["request"]["query"] == "DROP KEYSPACE mykeyspace;"
    assert headers(o, "request") == hdr("4", "QUERY", 46, "Tracing", 275)
    error = o["cassandra"]["response"]["error"]
    assert error["code"] == 8960
    assert error["msg"] == "Cannot drop non existing keyspace 'mykeyspace'."
    assert error["type"] == "errConfig"
    assert headers(o, "response") == hdr("4", "ERROR", 53, "Default", 275)
    assert o["status"] == "Error"  # Packetbeat leaves an ERROR answer OK; an error is an error here


def test_select_use_index() -> None:
    o = cassandra_events("cassandra_select_via_index.pcap")[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["cassandra"]["request"]["query"] == "SELECT * FROM users WHERE lname = 'smith';"
    assert headers(o, "request") == hdr("4", "QUERY", 63, "Default", 262)
    assert headers(o, "response") == hdr("4", "RESULT", 89, "Default", 262)
    assert o["cassandra"]["response"]["result"]["type"] == "rows"


def test_ops_mixed() -> None:
    objs = cassandra_events("cassandra_mixed_frame.pcap")
    o = objs[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (9, 61)
    assert headers(o, "request") == hdr("4", "OPTIONS", 0, "Default", 0)
    assert headers(o, "response") == hdr("4", "SUPPORTED", 52, "Default", 0)
    o = objs[1]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (31, 9)
    assert headers(o, "request") == hdr("4", "STARTUP", 22, "Default", 1)
    assert headers(o, "response") == hdr("4", "READY", 0, "Default", 1)
    o = objs[2]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (58, 9)
    assert headers(o, "request") == hdr("4", "REGISTER", 49, "Default", 2)
    assert headers(o, "response") == hdr("4", "READY", 0, "Default", 2)


def test_ops_mixed_supported_options() -> None:
    supported = cassandra_events("cassandra_mixed_frame.pcap")[0]["cassandra"]["response"]["supported"]
    assert supported["CQL_VERSION"] == ["3.4.2"]  # the strings in the captured SUPPORTED body
    assert set(supported["COMPRESSION"]) == {"snappy", "lz4"}


def test_ops_ignored() -> None:
    objs = cassandra_events("cassandra_mixed_frame.pcap", ignored_ops=["OPTIONS", "REGISTER"])
    o = objs[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (31, 9)
    assert headers(o, "request") == hdr("4", "STARTUP", 22, "Default", 1)
    assert headers(o, "response") == hdr("4", "READY", 0, "Default", 1)
    o = objs[1]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (101, 116)
    assert headers(o, "request") == hdr("4", "QUERY", 92, "Default", 3)
    assert headers(o, "response") == hdr("4", "RESULT", 107, "Default", 3)
    assert all(e["cassandra"]["request"]["headers"]["op"] not in ("OPTIONS", "REGISTER") for e in objs)


needs_snappy = pytest.mark.skipif(not compression.available("snappy"),
                                  reason="python-snappy is not installed (the cassandra extra)")


@needs_snappy
def test_compressed_frame() -> None:
    objs = cassandra_events("cassandra_compressed.pcap", compressor="snappy")
    o = objs[0]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (52, 10)
    assert headers(o, "request") == hdr("4", "STARTUP", 43, "Default", 0)
    assert headers(o, "response") == hdr("4", "READY", 1, "Compress", 0)
    o = objs[1]
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (53, 10)
    assert headers(o, "request") == hdr("4", "REGISTER", 44, "Compress", 64)
    assert headers(o, "response") == hdr("4", "READY", 1, "Compress", 64)
    o = objs[2]  # see the module docstring: paired by stream id, not first-in first-out
    assert o["type"] == "cassandra"
    assert o["destination"]["port"] == 9042
    assert o["destination"]["bytes"] == 165
    assert o["cassandra"]["request"]["query"] == "SELECT * FROM system.peers"
    assert headers(o, "request") == hdr("4", "QUERY", 35, "Compress", 64)
    assert headers(o, "response") == hdr("4", "RESULT", 156, "Compress", 64)
    result = o["cassandra"]["response"]["result"]
    assert result["type"] == "rows"
    assert result["rows"]["num_rows"] == 0  # system.peers of a one-node cluster
    assert result["rows"]["meta"] == {"col_count": 9, "flags": "GlobalTableSpec", "keyspace": "system",
                                      "table": "peers"}
    local = next(e for e in objs if e["cassandra"]["request"].get("query") ==
                 "SELECT * FROM system.local WHERE key='local'")
    assert (local["source"]["bytes"], local["destination"]["bytes"]) == (62, 5427)
    assert headers(local, "request") == hdr("4", "QUERY", 53, "Compress", 0)
    assert headers(local, "response")["stream"] == 0
    assert local["cassandra"]["response"]["result"]["rows"]["meta"]["table"] == "local"
    assert local["cassandra"]["response"]["result"]["rows"]["num_rows"] == 1


@needs_snappy
def test_compressed_frames_without_the_compressor_key_use_the_startup_option() -> None:
    configured = cassandra_events("cassandra_compressed.pcap", compressor="snappy")
    negotiated = cassandra_events("cassandra_compressed.pcap")
    assert [e["cassandra"] for e in negotiated] == [e["cassandra"] for e in configured]
    assert all(e["status"] == "OK" for e in negotiated)


def test_compressed_frames_without_the_library_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper.testing import run_pcap
    monkeypatch.setitem(compression._LIBRARIES, "snappy", None)
    config = {"packetshipper": {"protocols": [{"type": "cassandra", "compressor": "snappy"}],
                                "flows": {"enabled": False}}}
    run = run_pcap(str(V4 / "cassandra_compressed.pcap"), config)
    events = [e for e in run.events if e["type"] == "cassandra"]
    assert len(events) == 20  # every transaction still reported, from its headers
    counters = run.stats["protocols"]["modules"]["cassandra"]
    assert counters["compressed_not_decoded"] == 38  # tshark: 38 CQL frames with the compression flag
    startup = events[0]
    assert headers(startup, "response") == hdr("4", "READY", 1, "Compress", 0)
    assert startup["status"] == "Error"
    assert "python-snappy" in startup["error"]["message"]


def test_sample_output() -> None:
    """sample_outputs/cassandra.json: the same transaction in cassandra_create_table.pcap (stream 52)."""
    sample = json.loads((PCAPS / "sample_outputs" / "cassandra.json").read_text())
    o = next(e for e in cassandra_events("cassandra_create_table.pcap")
             if e["cassandra"]["request"]["headers"]["stream"] == 52)
    # The request's record time is .891324 s (tshark, frame 7); the sample has it truncated to ms.
    assert o["@timestamp"] == "2016-06-28T09:16:17.891324Z"
    assert o["@timestamp"][:23] + "Z" == sample["@timestamp"]
    assert o["type"] == sample["type"] and o["status"] == sample["status"]
    assert o["source"]["bytes"] == sample["bytes_in"] and o["destination"]["bytes"] == sample["bytes_out"]
    assert (o["client"]["ip"], o["client"]["port"]) == (sample["client"]["ip"], sample["client"]["port"])
    assert (o["server"]["ip"], o["server"]["port"]) == (sample["server"]["ip"], sample["server"]["port"])
    assert o["event"]["duration"] // 1_000_000 == sample["responsetime"]
    expected = sample["cassandra"]
    expected["response"]["result"]["rows"]["num_rows"] = 1  # Packetbeat's 879461: see the module docstring
    assert o["cassandra"] == expected
