"""The framer: packets fed whole, byte by byte and with trailing bytes; 16 MiB splits; bounded memory;
the switch to TLS; gaps and a close inside a packet."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from packetshipper.modules.mysql.framing import PacketFramer
from packetshipper.modules.mysql.messages import ConnectionState, MysqlPacket, StreamGap
from packetshipper.protocol import Direction
from test_mysql_wire import MAX_PAYLOAD, err, ok, packet, query, result_set, ssl_request

CONVERSATION = query("SELECT a FROM t") + query("SELECT 2")
ANSWERS = result_set(["a"], [["1"], ["2"]], deprecate_eof=False) + ok(1, affected=3)


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def framer(direction: Direction = Direction.REQUEST, limit: int = 1 << 20,
           state: ConnectionState | None = None) -> tuple[PacketFramer, Counts]:
    counts = Counts()
    return PacketFramer(direction, state or ConnectionState(), limit, counts), counts


def shape(packets: list[MysqlPacket]) -> list[tuple[int, int, bytes, int]]:
    return [(p.seq, p.length, p.payload, p.wire_size) for p in packets]


def test_whole_input_gives_each_packet_with_its_sequence_id_and_size() -> None:
    parser, _ = framer()
    packets = parser.receive_data(CONVERSATION, 1.0)
    assert shape(packets) == [(0, 16, b"\x03SELECT a FROM t", 20), (0, 9, b"\x03SELECT 2", 13)]


def test_byte_by_byte_gives_the_same_packets_stamped_with_their_first_byte() -> None:
    parser, _ = framer(Direction.RESPONSE)
    whole, _ = framer(Direction.RESPONSE)
    out: list[MysqlPacket] = []
    for i in range(len(ANSWERS)):
        out += parser.receive_data(ANSWERS[i:i + 1], float(i))
    assert shape(out) == shape(whole.receive_data(ANSWERS, 0.0))
    assert out[1].ts == 5.0  # the column definition starts after the 5-byte column count packet
    assert [p.seq for p in out] == [1, 2, 3, 4, 5, 6, 1]


def test_trailing_bytes_of_an_unfinished_packet_wait_for_the_rest() -> None:
    parser, _ = framer()
    tail = query("SELECT 3")
    assert len(parser.receive_data(CONVERSATION + tail[:6], 1.0)) == 2
    assert shape(parser.receive_data(tail[6:], 2.0)) == [(0, 9, b"\x03SELECT 3", 13)]


def test_a_payload_of_16_mib_or_more_is_one_packet_joined_from_its_wire_packets() -> None:
    payload = b"\x03INSERT " + b"v" * (MAX_PAYLOAD + 100)
    wire = packet(0, payload)
    parser, _ = framer(limit=64 << 20)
    out: list[MysqlPacket] = []
    for i in range(0, len(wire), 1 << 16):
        out += parser.receive_data(wire[i:i + (1 << 16)], 1.0)
    assert len(out) == 1
    assert out[0].payload == payload and out[0].length == len(payload)
    assert (out[0].seq, out[0].last_seq) == (0, 1)
    assert out[0].wire_size == len(payload) + 8


def test_a_payload_of_exactly_16_mib_ends_with_an_empty_packet() -> None:
    payload = b"\x03" + b"w" * (MAX_PAYLOAD - 1)
    wire = packet(0, payload)
    assert wire.endswith(b"\x00\x00\x00\x01")  # the empty packet that ends it
    parser, _ = framer(limit=32 << 20)
    out = parser.receive_data(wire, 1.0)
    assert [(p.length, p.seq, p.last_seq) for p in out] == [(MAX_PAYLOAD, 0, 1)]


def _chunks_of_a_50_mb_row(chunk: int = 1 << 16) -> Iterator[bytes]:
    total = 50 * 1000 * 1000
    sent = 0
    seq = 5
    while True:
        part = min(MAX_PAYLOAD, total - sent)
        yield part.to_bytes(3, "little") + bytes([seq])
        seq += 1
        body = b"r" * chunk
        left = part
        while left:
            n = min(chunk, left)
            yield body[:n]
            left -= n
        sent += part
        if part < MAX_PAYLOAD:
            return


def test_a_50_mb_packet_keeps_only_max_message_size_and_counts_the_cut() -> None:
    limit = 1 << 20
    parser, counts = framer(Direction.RESPONSE, limit=limit)
    tracemalloc.start()
    try:
        out: list[MysqlPacket] = []
        for chunk in _chunks_of_a_50_mb_row():
            out += parser.receive_data(chunk, 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) == 1
    assert out[0].length == 50 * 1000 * 1000
    assert len(out[0].payload) == limit and out[0].truncated
    assert counts == {"truncated_packets": 1}
    assert peak < limit + (4 << 20)  # the kept prefix plus a few chunks, never the 50 MB


def test_after_an_ssl_request_neither_direction_is_parsed() -> None:
    state = ConnectionState()
    client, _ = framer(Direction.REQUEST, state=state)
    server, _ = framer(Direction.RESPONSE, state=state)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40)
    out = client.receive_data(ssl_request() + hello, 1.0)
    assert [p.length for p in out] == [32]
    assert state.opaque
    assert client.receive_data(query("SELECT 1"), 2.0) == []
    assert server.receive_data(b"\x16\x03\x03\x00\x7a\x02" + bytes(60), 2.0) == []


def test_a_gap_drops_the_packet_it_hit_and_the_next_segment_starts_afresh() -> None:
    parser, _ = framer(Direction.RESPONSE)
    answer = result_set(["a"], [["x" * 40]], deprecate_eof=True)
    assert len(parser.receive_data(answer[:30], 1.0)) == 1
    assert parser.receive_gap(25, 2.0) == [StreamGap(2.0, 25)]
    assert shape(parser.receive_data(ok(1), 3.0)) == shape(framer()[0].receive_data(ok(1), 0.0))


def test_the_server_framer_restarts_at_its_next_segment_when_asked() -> None:
    state = ConnectionState()
    parser, counts = framer(Direction.RESPONSE, state=state)
    assert parser.receive_data(b"\xff\xff\x7f\x09garbage", 1.0) == []  # inside a huge "packet"
    state.resync_server = True
    assert [p.first for p in parser.receive_data(err(1, 1064, "42000", "bad"), 2.0)] == [0xFF]
    assert counts == {"packets_dropped_on_resync": 1}


def test_a_close_inside_a_packet_is_counted() -> None:
    parser, counts = framer()
    assert parser.receive_data(query("SELECT 1")[:7], 1.0) == []
    assert parser.receive_eof(2.0) == []
    assert counts == {"packets_cut_by_close": 1}
