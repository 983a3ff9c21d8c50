"""The cassandra stream parser on frames built from the specification (no Cassandra server runs here),
each case fed whole, one byte at a time, and followed by the start of another frame.

v5 segments and v4 lz4 bodies are checked against bytes produced by the DataStax Python driver
(cassandra-driver 3.30's SegmentCodec and ProtocolHandler), an implementation independent of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cassandra_wire as w
import pytest
from packetshipper.modules.cassandra import compression
from packetshipper.modules.cassandra.frames import Session
from packetshipper.modules.cassandra.messages import Frame
from packetshipper.modules.cassandra.parser import CassandraStreamParser
from packetshipper.modules.cassandra.segments import crc24
from packetshipper.modules.cassandra.settings import SETTINGS, CassandraConfig
from packetshipper.protocol import Direction, ProtocolError

# cassandra-driver: QUERY "SELECT release_version FROM system.local" (ONE), stream 7, v5 envelope ...
DRIVER_V5_ENVELOPE = bytes.fromhex(
    "0500000707000000320000002853454c4543542072656c656173655f76657273696f6e2046524f4d2073797374656d2e6c6f"
    "63616c000100000000")
# ... and the same envelope in one uncompressed, self-contained segment
DRIVER_V5_SEGMENT = bytes.fromhex(
    "3b00026b01eb0500000707000000320000002853454c4543542072656c656173655f76657273696f6e2046524f4d2073797374"
    "656d2e6c6f63616c0001000000009465f7a2")
# QUERY "SELECT * FROM ks.t WHERE k IN ('aaaa',... 40 times)" stream 9, v5, in one lz4 segment
BIG_QUERY = "SELECT * FROM ks.t WHERE k IN (" + ",".join(["'aaaa'"] * 40) + ")"
DRIVER_V5_LZ4_SEGMENT = bytes.fromhex(
    "4000940204258f65ff240500000907000001410000013753454c454354202a2046524f4d206b732e74205748455245206b20"
    "494e20282761616161272c0700fd70290001000000009968dec1")
# the same QUERY, stream 3, as a v4 frame with an lz4-compressed body (the driver's lz4_compress)
DRIVER_V4_LZ4_FRAME = bytes.fromhex(
    "0401000307000000390000013eff1b0000013753454c454354202a2046524f4d206b732e74205748455245206b20494e2028"
    "2761616161272c0700fc502729000100")

needs_lz4 = pytest.mark.skipif(not compression.available("lz4"), reason="lz4 is not installed")


def config(**overrides: Any) -> CassandraConfig:
    raw = {key: spec.default for key, spec in SETTINGS.items()}  # type: ignore[union-attr]
    raw.update(overrides)
    return CassandraConfig.from_mapping(raw)


def parser(direction: Direction = Direction.REQUEST, session: Session | None = None,
           counts: dict[str, int] | None = None, **overrides: Any) -> CassandraStreamParser:
    counted = counts if counts is not None else {}

    def count(name: str, n: int = 1) -> None:
        counted[name] = counted.get(name, 0) + n

    return CassandraStreamParser(config(**overrides), direction, session or Session(), count)


Feed = Callable[[CassandraStreamParser, bytes], list[Frame]]


def whole(p: CassandraStreamParser, data: bytes) -> list[Frame]:
    return p.receive_data(data, 1.0)


def bytewise(p: CassandraStreamParser, data: bytes) -> list[Frame]:
    out: list[Frame] = []
    for i in range(len(data)):
        out += p.receive_data(data[i:i + 1], 1.0)
    return out


def trailing(p: CassandraStreamParser, data: bytes) -> list[Frame]:
    return p.receive_data(data + w.frame("OPTIONS", stream=99)[:5], 1.0)


FEEDS = pytest.mark.parametrize("feed", [whole, bytewise, trailing], ids=["whole", "bytewise", "trailing"])


def only(frames: list[Frame]) -> Frame:
    assert len(frames) == 1, frames
    return frames[0]


@FEEDS
def test_query_request(feed: Feed) -> None:
    f = only(feed(parser(), w.frame("QUERY", w.query_body("SELECT * FROM t"), stream=5)))
    assert (f.version, f.is_response, f.stream, f.opcode) == (4, False, 5, 0x07)
    assert f.fields == {"query": "SELECT * FROM t"}
    assert f.size == 9 + f.length


@FEEDS
def test_v3_and_v2_headers(feed: Feed) -> None:
    f = only(feed(parser(), w.frame("QUERY", w.query_body("SELECT 1"), stream=300, version=3)))
    assert (f.version, f.stream) == (3, 300)
    f = only(feed(parser(), w.frame("QUERY", w.query_body("SELECT 2"), stream=-3, version=2)))
    assert (f.version, f.stream, f.size) == (2, -3, 8 + f.length)  # v1/v2: 8-byte header, 8-bit stream


@FEEDS
def test_rows_result_reads_the_column_specs(feed: Feed) -> None:
    columns = [("id", w.option(w.INT)), ("tags", w.option(w.LIST, w.option(w.VARCHAR))),
               ("attrs", w.option(w.MAP, w.option(w.VARCHAR), w.option(w.INT))),
               ("addr", w.option(w.UDT, w.string("ks"), w.string("address"), w.short(1), w.string("street"),
                                 w.option(w.VARCHAR)))]
    body = w.rows_body("ks", "users", columns, [[b"\x00\x00\x00\x01", None, None, None]] * 3,  # type: ignore[list-item]
                       paging_state=b"\x01\xab")
    f = only(feed(parser(Direction.RESPONSE), w.frame("RESULT", body, stream=5)))
    assert f.fields["result"] == {"type": "rows", "rows": {
        "num_rows": 3, "meta": {"flags": "GlobalTableSpec,HasMorePages", "col_count": 4, "keyspace": "ks",
                                "table": "users", "paging_state": "01AB"}}}


@FEEDS
def test_other_results(feed: Feed) -> None:
    p = parser(Direction.RESPONSE)
    data = (w.frame("RESULT", w.int_(1), stream=1)
            + w.frame("RESULT", w.int_(3) + w.string("ks1"), stream=2)
            + w.frame("RESULT", w.int_(5) + w.string("CREATED") + w.string("TABLE") + w.string("ks1")
                      + w.string("t1"), stream=3)
            + w.frame("RESULT", w.int_(5) + w.string("DROPPED") + w.string("FUNCTION") + w.string("ks1")
                      + w.string("f") + w.string_list(["int", "text"]), stream=4))
    results = [f.fields["result"] for f in feed(p, data)]
    assert results == [
        {"type": "void"},
        {"type": "set_keyspace", "keyspace": "ks1"},
        {"type": "schemaChanged", "schema_change": {"change": "CREATED", "target": "TABLE", "keyspace": "ks1",
                                                    "object": "t1"}},
        {"type": "schemaChanged", "schema_change": {"change": "DROPPED", "target": "FUNCTION",
                                                    "keyspace": "ks1", "name": "f", "args": ["int", "text"]}},
    ]


@FEEDS
def test_prepared_result_v4(feed: Feed) -> None:
    prepared_id = bytes(range(16))
    # id, then prepared metadata: flags, columns, pk count + indexes, table spec, column specs ...
    body = (w.int_(4) + w.short_bytes(prepared_id) + w.int_(1) + w.int_(1) + w.int_(1) + w.short(0)
            + w.string("ks") + w.string("t") + w.string("k") + w.option(w.INT)
            # ... then the result metadata (no metadata)
            + w.int_(4) + w.int_(2))
    f = only(feed(parser(Direction.RESPONSE), w.frame("RESULT", body, stream=8)))
    assert f.fields["result"] == {"type": "prepared", "prepared": {
        "prepared_id": "00010203-0405-0607-0809-0a0b0c0d0e0f",
        "req_meta": {"flags": "GlobalTableSpec", "col_count": 1, "pkey_columns": [0], "keyspace": "ks",
                     "table": "t"},
        "resp_meta": {"flags": "NoMetaData", "col_count": 2}}}


ERRORS = [
    (0x1000, w.short(4) + w.int_(3) + w.int_(1), "errUnavailable",
     {"read_consistency": "QUORUM", "required": 3, "alive": 1}),
    (0x1100, w.short(1) + w.int_(0) + w.int_(1) + w.string("SIMPLE"), "errWriteTimeout",
     {"read_consistency": "ONE", "received": 0, "blockfor": 1, "write_type": "SIMPLE"}),
    (0x1200, w.short(6) + w.int_(1) + w.int_(2) + b"\x00", "errReadTimeout",
     {"read_consistency": "LOCAL_QUORUM", "received": 1, "blockfor": 2, "data_present": False}),
    (0x1300, w.short(1) + w.int_(0) + w.int_(1) + w.int_(1) + b"\x01", "errReadFailure",
     {"read_consistency": "ONE", "received": 0, "blockfor": 1, "num_failures": "1", "data_present": True}),
    (0x1400, w.string("ks") + w.string("fn") + w.string_list(["int"]), "errFunctionFailure",
     {"keyspace": "ks", "function": "fn", "arg_types": ["int"]}),
    (0x1500, w.short(0) + w.int_(0) + w.int_(2) + w.int_(2) + w.string("BATCH"), "errWriteFailure",
     {"read_consistency": "ANY", "received": 0, "blockfor": 2, "num_failures": "2", "write_type": "BATCH"}),
    (0x2400, w.string("ks") + w.string("t"), "errAlreadyExists", {"keyspace": "ks", "table": "t"}),
    (0x2500, w.short_bytes(b"\xca\xfe"), "errUnprepared", {"stmt_id": "cafe"}),
    (0x2000, b"", "errSyntax", None),
    (0x000A, b"", "errProtocol", None),
    (0x0100, b"", "errCredentials", None),
    (0x7777, b"", "ErrUnknown", None),
]


@pytest.mark.parametrize(("code", "extra", "name", "details"), ERRORS, ids=[e[2] for e in ERRORS])
def test_errors_with_their_details(code: int, extra: bytes, name: str, details: dict[str, Any] | None) -> None:
    f = only(parser(Direction.RESPONSE).receive_data(w.frame("ERROR", w.error_body(code, "boom", extra)), 1.0))
    expected: dict[str, Any] = {"code": code, "msg": "boom", "type": name}
    if details:
        expected["details"] = details
    assert f.fields["error"] == expected


@FEEDS
def test_server_responses_without_results(feed: Feed) -> None:
    data = (w.frame("READY", stream=1) + w.frame("AUTHENTICATE", w.string("org.apache.Pw"), stream=2)
            + w.frame("SUPPORTED", w.string_multimap({"COMPRESSION": ["lz4", "snappy"]}), stream=3)
            + w.frame("AUTH_CHALLENGE", w.bytes_(b"token"), stream=4)
            + w.frame("AUTH_SUCCESS", w.bytes_(None), stream=5))
    frames = feed(parser(Direction.RESPONSE), data)
    assert [f.opcode for f in frames] == [0x02, 0x03, 0x06, 0x0E, 0x10]
    assert frames[1].fields == {"authentication": {"class": "org.apache.Pw"}}
    assert frames[2].fields == {"supported": {"COMPRESSION": ["lz4", "snappy"]}}
    assert frames[3].fields == {} and frames[4].fields == {}  # tokens are never kept


@FEEDS
def test_events(feed: Feed) -> None:
    data = (w.frame("EVENT", w.string("TOPOLOGY_CHANGE") + w.string("NEW_NODE") + w.inet(b"\x0a\x00\x00\x02", 9042),
                    stream=-1)
            + w.frame("EVENT", w.string("SCHEMA_CHANGE") + w.string("CREATED") + w.string("KEYSPACE")
                      + w.string("ks9"), stream=-1))
    frames = feed(parser(Direction.RESPONSE), data)
    assert frames[0].fields == {"event": {"type": "TOPOLOGY_CHANGE", "change": "NEW_NODE", "host": "10.0.0.2",
                                          "port": 9042}}
    assert frames[1].fields == {"event": {"type": "SCHEMA_CHANGE", "schema_change": {
        "change": "CREATED", "target": "KEYSPACE", "keyspace": "ks9"}}}
    assert frames[0].stream == -1


@FEEDS
def test_every_request_opcode(feed: Feed) -> None:
    data = (w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0"}), stream=0) + w.frame("OPTIONS", stream=1)
            + w.frame("AUTH_RESPONSE", w.bytes_(b"\x00user\x00secret"), stream=2)
            + w.frame("PREPARE", w.long_string("SELECT * FROM t WHERE k = ?"), stream=3)
            + w.frame("EXECUTE", w.short_bytes(b"\x01" * 16) + w.short(1) + b"\x00", stream=4)
            + w.frame("BATCH", b"\x00" + w.short(1) + b"\x00" + w.long_string("INSERT") + w.short(0)
                      + w.short(1) + b"\x00", stream=5)
            + w.frame("REGISTER", w.string_list(["SCHEMA_CHANGE"]), stream=6)
            + w.frame("QUERY", w.query_body("SELECT 1"), stream=7))
    frames = feed(parser(), data)
    assert [f.stream for f in frames] == list(range(8))
    assert frames[3].fields == {"query": "SELECT * FROM t WHERE k = ?"}
    assert "secret" not in repr(frames[2].fields)


def test_response_tracing_id_and_warnings_come_before_the_body() -> None:
    body = bytes(16) + w.string_list(["Aggregation query used without partition key"]) + w.int_(1)
    f = only(parser(Direction.RESPONSE).receive_data(w.frame("RESULT", body, flags=0x0A), 1.0))
    assert f.fields["warnings"] == ["Aggregation query used without partition key"]
    assert f.fields["result"] == {"type": "void"}


def test_a_damaged_body_is_reported_from_its_header_and_the_stream_goes_on() -> None:
    counts: dict[str, int] = {}
    p = parser(Direction.RESPONSE, counts=counts)
    frames = p.receive_data(w.frame("RESULT", w.int_(2) + b"\x00", stream=1) + w.frame("READY", stream=2), 1.0)
    assert [(f.stream, f.decoded) for f in frames] == [(1, False), (2, True)]
    assert counts["bodies_not_decoded"] == 1
    assert "RESULT body not decoded" in frames[0].notes[0]


def test_an_oversized_body_is_skipped_as_it_streams() -> None:
    counts: dict[str, int] = {}
    p = parser(counts=counts, max_message_size=64)
    big = w.frame("QUERY", w.query_body("x" * 5000), stream=1)
    frames = bytewise(p, big + w.frame("OPTIONS", stream=2))
    assert [(f.stream, f.decoded, f.length) for f in frames] == [(1, False, 5007), (2, True, 0)]
    assert counts["oversized_frames"] == 1
    assert p._frames.buffered < 64


def test_bytes_lost_inside_an_oversized_body_are_skipped() -> None:
    p = parser(max_message_size=64)
    big = w.frame("QUERY", w.query_body("x" * 5000), stream=1)
    assert p.receive_data(big[:100], 1.0) == []
    assert p.receive_gap(1000, 1.0) == []
    assert [f.stream for f in p.receive_data(big[1100:] + w.frame("OPTIONS", stream=2), 1.0)] == [1, 2]


@pytest.mark.parametrize("data", [b"\x00\x00\x00\x07" + bytes(5),  # version 0
                                  b"\x47\x00\x00\x00\x07" + bytes(4),  # version 0x47
                                  w.frame("QUERY")[:4] + b"\x04" + bytes(4),  # opcode 4 does not exist
                                  w.frame("READY")[:0] + b"\x04\x00\x00\x00\x02" + bytes(4),  # READY as request
                                  b"\x04\x00\x00\x00\x07\x7f\xff\xff\xff"])  # over 256MB
def test_garbage_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parser().receive_data(data, 1.0)


def test_a_gap_outside_a_skipped_body_raises() -> None:
    with pytest.raises(ProtocolError):
        parser().receive_gap(10, 1.0)


# --- compression -------------------------------------------------------------------------------------


@needs_lz4
@FEEDS
def test_v4_lz4_body_as_the_driver_writes_it(feed: Feed) -> None:
    session = Session(compression="lz4")
    f = only(feed(parser(session=session), DRIVER_V4_LZ4_FRAME))
    assert (f.stream, f.flags, f.fields) == (3, 0x01, {"query": BIG_QUERY})


@needs_lz4
def test_the_startup_option_sets_the_compression_for_both_directions() -> None:
    session = Session()
    client = parser(session=session)
    client.receive_data(w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"})), 1.0)
    assert session.compression == "lz4"
    assert only(client.receive_data(DRIVER_V4_LZ4_FRAME, 1.0)).fields == {"query": BIG_QUERY}


@needs_lz4
def test_without_any_setting_both_algorithms_are_tried() -> None:
    assert only(parser().receive_data(DRIVER_V4_LZ4_FRAME, 1.0)).fields == {"query": BIG_QUERY}


def test_a_missing_library_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(compression._LIBRARIES, "lz4", None)
    counts: dict[str, int] = {}
    f = only(parser(session=Session(compression="lz4"), counts=counts).receive_data(DRIVER_V4_LZ4_FRAME, 1.0))
    assert (f.decoded, counts["compressed_not_decoded"]) == (False, 1)
    assert "lz4 is not installed" in f.notes[0]


# --- protocol v5 framing -----------------------------------------------------------------------------


def test_crc24_of_the_driver_segment_header() -> None:
    header = int.from_bytes(DRIVER_V5_SEGMENT[:3], "little")
    assert crc24(header, 3) == int.from_bytes(DRIVER_V5_SEGMENT[3:6], "little")


def v5_startup() -> bytes:
    return w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0"}), version=5)


@FEEDS
def test_v5_client_switches_to_segments_after_startup(feed: Feed) -> None:
    frames = feed(parser(), v5_startup() + DRIVER_V5_SEGMENT)
    assert [f.opcode for f in frames] == [0x01, 0x07]
    assert frames[1].fields == {"query": "SELECT release_version FROM system.local"}
    assert (frames[1].version, frames[1].stream, frames[1].size) == (5, 7, len(DRIVER_V5_ENVELOPE))


@needs_lz4
@FEEDS
def test_v5_lz4_segments(feed: Feed) -> None:
    session = Session()
    data = w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"}), version=5)
    frames = feed(parser(session=session), data + DRIVER_V5_LZ4_SEGMENT)
    assert frames[1].fields == {"query": BIG_QUERY} and frames[1].stream == 9


def test_v5_server_switches_after_ready_and_a_large_envelope_spans_segments() -> None:
    import zlib

    def segment(payload: bytes, self_contained: bool) -> bytes:
        header = len(payload) | (self_contained << 17)
        crc = zlib.crc32(payload, zlib.crc32(b"\xfa\x2d\x55\xca"))
        return (header.to_bytes(3, "little") + crc24(header, 3).to_bytes(3, "little") + payload
                + crc.to_bytes(4, "little"))

    envelope = w.frame("RESULT", w.int_(3) + w.string("k" * 300), stream=4, version=5)
    data = (w.frame("READY", version=5) + segment(envelope[:100], False) + segment(envelope[100:], False)
            + segment(w.frame("RESULT", w.int_(1), stream=5, version=5), True))
    frames = bytewise(parser(Direction.RESPONSE), data)
    assert [(f.opcode, f.stream) for f in frames] == [(0x02, 0), (0x08, 4), (0x08, 5)]
    assert frames[1].fields["result"] == {"type": "set_keyspace", "keyspace": "k" * 300}


def test_a_capture_starting_inside_a_v5_connection_finds_the_segments() -> None:
    assert only(parser().receive_data(DRIVER_V5_SEGMENT, 1.0)).stream == 7


def test_a_client_falling_back_to_v4_after_a_refused_v5_startup() -> None:
    counts: dict[str, int] = {}
    p = parser(counts=counts)
    frames = p.receive_data(v5_startup(), 1.0)
    frames += p.receive_data(w.frame("STARTUP", w.string_map({"CQL_VERSION": "3.0.0"}), stream=0)
                             + w.frame("QUERY", w.query_body("SELECT 1"), stream=1), 1.0)
    assert [(f.version, f.opcode) for f in frames] == [(5, 0x01), (4, 0x01), (4, 0x07)]
    assert counts["framing_fallbacks"] == 1


def test_a_corrupt_segment_payload_raises() -> None:
    damaged = DRIVER_V5_SEGMENT[:20] + b"\xff" + DRIVER_V5_SEGMENT[21:]
    p = parser()
    p.receive_data(v5_startup(), 1.0)
    with pytest.raises(ProtocolError):
        p.receive_data(damaged, 1.0)
