"""The TCP layer through the dispatcher: roles, connection ends, limits, reordering and gaps.

The protocol on top is the example line protocol in tests/plugin_example (one line, one message).
"""

from __future__ import annotations

from typing import Any

from packetshipper.decode.packet import Packet
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, StreamParser, Transaction
from packetshipper.settings import validate
from plugin_example.lineproto import LineModule, LineParser
from plugin_example.packets import TcpConversation, restamp


class RecordingLineModule(LineModule):
    """The line module, keeping the transactions it is asked to turn into events."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.transactions: list[Transaction[Any, Any]] = []

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        self.transactions.append(transaction)
        return super().event_fields(transaction)


def line_module(cls: type[LineModule] = RecordingLineModule, **config: Any) -> Any:
    return cls(validate({**COMMON_SETTINGS, **cls.settings}, {"type": "lineproto", **config}))


class Harness:
    def __init__(self, module: Any = None, **tcp: Any) -> None:
        self.module = module or line_module()
        self.events: list[dict[str, Any]] = []
        self.dispatcher = Dispatcher([self.module], self.events.append, Envelope("test"), {"tcp": tcp})

    def feed(self, packets: list[Packet]) -> Harness:
        for pkt in packets:
            self.dispatcher.handle(pkt)
        return self

    @property
    def tcp(self) -> dict[str, int]:
        return self.dispatcher.stats()["tcp"]

    @property
    def counters(self) -> dict[str, int]:
        return self.dispatcher.stats()["modules"]["lineproto"]

    def lines(self) -> list[tuple[str | None, str | None, str]]:
        return [(e["lineproto"].get("request"), e["lineproto"].get("response"), e["status"]) for e in self.events]


def exchange(conv: TcpConversation, request: bytes, response: bytes) -> list[Packet]:
    return [conv.send(True, request), conv.send(False, response)]


def test_a_request_and_its_response_make_one_event_with_the_syn_sender_as_client() -> None:
    conv = TcpConversation()
    packets = conv.handshake() + exchange(conv, b"hello\n", b"world!\n")
    h = Harness().feed(packets)
    assert len(h.events) == 1
    event = h.events[0]
    assert event["lineproto"] == {"request": "hello", "response": "world!"}
    assert event["status"] == "OK"
    assert event["client"] == {"ip": "10.0.0.1", "port": 40000, "bytes": 6, "mac": "0A-00-27-00-00-01"}
    assert event["server"] == {"ip": "10.0.0.2", "port": 7777, "bytes": 7, "mac": "0A-00-27-00-00-FF"}
    assert event["network"]["transport"] == "tcp" and event["network"]["bytes"] == 13
    # request sent at packet 4, response at packet 5; one millisecond apart
    assert event["event"]["duration"] == 1_000_000
    assert h.tcp["connections"] == 1


def test_a_syn_ack_seen_first_makes_its_receiver_the_client() -> None:
    conv = TcpConversation(server_port=7777)
    _syn, syn_ack, ack = conv.handshake()
    h = Harness().feed([syn_ack, ack, *exchange(conv, b"q\n", b"a\n")])
    assert h.lines() == [("q", "a", "OK")]
    assert h.events[0]["client"]["ip"] == "10.0.0.1"


def test_without_a_handshake_the_module_port_names_the_server() -> None:
    conv = TcpConversation()
    # The capture starts with the server talking: its port is the module's, so it is the server.
    h = Harness().feed([conv.send(False, b"late\n"), *exchange(conv, b"q\n", b"a\n")])
    assert h.lines() == [(None, "late", "Error"), ("q", "a", "OK")]
    assert h.events[0]["error"]["message"] == "Unmatched response"
    assert {e["server"]["ip"] for e in h.events} == {"10.0.0.2"}


def test_without_handshake_or_port_rule_the_first_sender_is_the_client() -> None:
    conv = TcpConversation(client_port=7777, server_port=7777)
    h = Harness().feed([conv.send(False, b"q\n"), conv.send(True, b"a\n")])
    assert h.lines() == [("q", "a", "OK")]
    assert h.events[0]["client"]["ip"] == "10.0.0.2"


def test_fin_from_both_sides_ends_the_connection_and_reports_what_is_pending() -> None:
    conv = TcpConversation()
    h = Harness().feed([*conv.handshake(), *exchange(conv, b"one\n", b"1\n"), conv.send(True, b"two\n")])
    assert h.lines() == [("one", "1", "OK")]
    h.feed([conv.fin(True), conv.fin(False)])
    assert h.lines() == [("one", "1", "OK"), ("two", None, "Error")]
    assert h.events[1]["error"]["message"] == "Unmatched request"
    assert h.tcp["connections"] == 0
    assert h.counters["unmatched"] == 1 and h.counters["transactions"] == 2


def test_a_fin_from_one_side_keeps_the_other_direction_open() -> None:
    conv = TcpConversation()
    h = Harness().feed([*conv.handshake(), conv.send(True, b"q\n"), conv.fin(True), conv.send(False, b"a\n")])
    assert h.lines() == [("q", "a", "OK")]
    assert h.tcp["connections"] == 1


def test_rst_ends_the_connection_at_once() -> None:
    conv = TcpConversation()
    h = Harness().feed([*conv.handshake(), conv.send(True, b"q\n"), conv.rst(False)])
    assert h.lines() == [("q", None, "Error")]
    assert h.tcp["connections"] == 0


def test_an_idle_connection_expires_on_tick() -> None:
    conv = TcpConversation()
    h = Harness(idle_timeout=30).feed([*conv.handshake(), conv.send(True, b"q\n")])
    last = conv.now
    h.dispatcher.tick(last + 29)
    assert h.tcp["connections"] == 1
    h.dispatcher.tick(last + 31)
    assert h.tcp["connections"] == 0 and h.tcp["connections_expired"] == 1
    assert h.lines() == [("q", None, "Error")]


def test_a_request_without_response_expires_after_the_transaction_timeout() -> None:
    conv = TcpConversation()
    h = Harness(line_module(transaction_timeout="5s")).feed([*conv.handshake(), conv.send(True, b"q\n")])
    sent = conv.now
    h.dispatcher.tick(sent + 4)
    assert h.events == []
    h.dispatcher.tick(sent + 6)
    assert h.lines() == [("q", None, "Error")]
    assert h.tcp["connections"] == 1  # the connection itself lives on


def test_connections_over_the_limit_are_counted_not_tracked() -> None:
    first, second = TcpConversation(client_port=1001), TcpConversation(client_port=1002)
    h = Harness(max_connections=1)
    h.feed([*first.handshake(), *second.handshake(), *exchange(second, b"lost\n", b"x\n"),
            *exchange(first, b"kept\n", b"y\n")])
    assert h.lines() == [("kept", "y", "OK")]
    assert h.tcp["connections_over_limit"] >= 1 and h.tcp["connections"] == 1


def test_a_new_syn_on_the_same_ports_starts_a_new_connection() -> None:
    old = TcpConversation(client_isn=100)
    new = TcpConversation(client_isn=900_000)
    h = Harness().feed([*old.handshake(), old.send(True, b"old\n")])
    h.feed([*new.handshake(), *exchange(new, b"new\n", b"n\n")])
    assert h.lines() == [("old", None, "Error"), ("new", "n", "OK")]
    assert h.tcp["connections_reused"] == 1 and h.tcp["connections_total"] == 2


def test_a_retransmitted_syn_is_not_a_new_connection() -> None:
    conv = TcpConversation()
    syn, syn_ack, ack = conv.handshake()
    h = Harness().feed([syn, syn, syn_ack, ack, *exchange(conv, b"q\n", b"a\n")])
    assert h.lines() == [("q", "a", "OK")]
    assert h.tcp["connections_total"] == 1


def test_retransmitted_and_overlapping_segments_are_delivered_once() -> None:
    conv = TcpConversation()
    h = Harness().feed(conv.handshake())
    first = conv.send(True, b"abc")
    second = conv.send(True, b"def\n")
    overlap = conv.packet(True, first.tcp_flags, first.seq + 1, b"bcde")  # bytes 2..5 again
    h.feed([first, first, overlap, second, conv.send(False, b"ok\n")])
    assert h.lines() == [("abcdef", "ok", "OK")]
    assert h.tcp["retransmissions"] == 1 and h.tcp["overlaps"] == 2
    txn = h.module.transactions[0]
    assert txn.overlaps == 2


def test_segments_out_of_order_are_reordered_and_counted_on_the_transaction() -> None:
    conv = TcpConversation()
    h = Harness().feed(conv.handshake())
    a, b, c = conv.segments(True, b"GET /x\n", 3)
    arrived = restamp([c, a, b], conv.now + 0.001)
    conv.now = arrived[-1].ts
    h.feed([*arrived, conv.send(False, b"done\n")])
    h.feed(exchange(conv, b"next\n", b"ok\n"))
    assert h.lines() == [("GET /x", "done", "OK"), ("next", "ok", "OK")]
    assert h.tcp["out_of_order"] == 1
    assert [t.out_of_order for t in h.module.transactions] == [1, 0]


def test_beyond_the_out_of_order_limit_a_gap_is_reported_counted_and_carried() -> None:
    conv = TcpConversation()
    h = Harness(max_out_of_order_bytes_per_connection=8).feed(conv.handshake())
    aaaa, bbbb, cccc, dddd = conv.segments(True, b"AAAA\nBBBB\nCCCC\nDDDD\n", 5)
    h.feed([aaaa, conv.send(False, b"R1\n")])
    h.feed([cccc])  # BBBB is lost; CCCC waits (5 bytes held)
    assert h.tcp["out_of_order_bytes"] == 5
    h.feed([dddd])  # 10 bytes would be held: the hole is given up
    h.feed([conv.send(False, b"R2\n"), conv.send(False, b"R3\n")])
    assert h.lines() == [("AAAA", "R1", "OK"), ("CCCC", "R2", "OK"), ("DDDD", "R3", "OK")]
    assert h.tcp["gaps"] == 1 and h.tcp["bytes_lost"] == 5 and h.tcp["gaps_over_limit"] == 1
    assert h.tcp["out_of_order_bytes"] == 0
    # The line parser cannot cross a gap: it raises ProtocolError and a fresh parser takes over.
    assert h.counters["protocol_errors"] == 1
    gaps = [t.gaps for t in h.module.transactions]
    assert gaps == [0, 1, 1]


def test_a_hole_is_given_up_after_the_gap_timeout() -> None:
    conv = TcpConversation()
    h = Harness(gap_timeout="2s").feed(conv.handshake())
    first, _lost, last = conv.segments(True, b"q1\nq2\nq3\n", 3)
    h.feed([first, last])
    held_since = conv.now
    h.dispatcher.tick(held_since + 1)
    assert h.tcp["gaps"] == 0
    h.dispatcher.tick(held_since + 2.5)
    assert h.tcp["gaps"] == 1 and h.tcp["gaps_timeout"] == 1 and h.tcp["bytes_lost"] == 3
    h.feed([conv.send(False, b"a1\n"), conv.send(False, b"a3\n")])
    assert h.lines() == [("q1", "a1", "OK"), ("q3", "a3", "OK")]


def test_a_parser_holding_more_than_max_message_size_is_reset_and_counted() -> None:
    conv = TcpConversation()
    h = Harness(line_module(max_line=10_000), max_message_size=16).feed(conv.handshake())
    h.feed(conv.segments(True, b"x" * 20, 10))
    assert h.counters["over_max_message_size"] == 1
    h.feed([conv.send(True, b"yz\n"), conv.send(False, b"ok\n")])
    assert h.lines() == [("yz", "ok", "OK")]


def test_a_protocol_error_resyncs_the_direction_with_a_fresh_parser() -> None:
    conv = TcpConversation()
    h = Harness().feed(conv.handshake())
    h.feed([conv.send(True, b"bad\x00line\n"), conv.send(True, b"good\n"), conv.send(False, b"ok\n")])
    assert h.counters["protocol_errors"] == 1
    assert h.lines() == [("good", "ok", "OK")]


class ExplodingParser(LineParser):
    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if b"BOOM" in data:
            raise KeyError("a bug in the module")
        return super().receive_data(data, ts)


class ExplodingModule(RecordingLineModule):
    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return ExplodingParser(1024)


def test_a_module_bug_is_counted_drops_that_connection_and_capture_goes_on() -> None:
    broken, healthy = TcpConversation(client_port=1001), TcpConversation(client_port=1002)
    h = Harness(line_module(ExplodingModule))
    h.feed([*broken.handshake(), *healthy.handshake(), broken.send(True, b"q\n"), broken.send(True, b"BOOM\n")])
    h.feed([broken.send(False, b"a\n"), *exchange(healthy, b"fine\n", b"ok\n")])
    assert h.counters["bugs"] == 1
    assert h.lines() == [("fine", "ok", "OK")]
    h.dispatcher.flush(healthy.now)
    assert h.counters["bugs"] == 1


def test_flush_ends_every_connection() -> None:
    one, two = TcpConversation(client_port=1001), TcpConversation(client_port=1002)
    h = Harness().feed([*one.handshake(), *two.handshake(), one.send(True, b"a\n"), two.send(True, b"b\n")])
    h.dispatcher.flush(two.now)
    assert sorted(h.lines()) == [("a", None, "Error"), ("b", None, "Error")]
    assert h.tcp["connections"] == 0


def test_packets_of_unknown_connections_without_payload_or_syn_are_ignored() -> None:
    conv = TcpConversation()
    h = Harness().feed([conv.packet(True, 0x10, 1234), conv.rst(True)])
    assert h.tcp["connections_total"] == 0
