"""Reordering: an HTTP conversation shuffled within the buffering window gives the same events as in
order; shuffled beyond the per-connection limit, the hole is reported as a gap and counted."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.decode.packet import Packet
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.registry import build_modules
from plugin_example.packets import TcpConversation, restamp

REQUEST_1 = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n"
RESPONSE_1 = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz"
REQUEST_2 = b"POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello=world"
RESPONSE_2 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
SEGMENT = 9
TIMING = ("start", "end", "duration")


def conversation() -> list[list[Packet]]:
    """Handshake, then each message as its own run of 9-byte segments."""
    conv = TcpConversation(server_port=8080)
    return [
        conv.handshake(),
        conv.segments(True, REQUEST_1, SEGMENT),
        conv.segments(False, RESPONSE_1, SEGMENT),
        conv.segments(True, REQUEST_2, SEGMENT),
        conv.segments(False, RESPONSE_2, SEGMENT),
    ]


def run(packets: list[Packet], **tcp: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher(build_modules([{"type": "http", "ports": [8080]}]), events.append,
                            Envelope("test"), {"tcp": tcp})
    restamp(packets, 1_000_000.0)
    for pkt in packets:
        dispatcher.handle(pkt)
    dispatcher.flush(packets[-1].ts + 1)
    return events, dispatcher.stats()


def without_timing(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events minus their timing and the stream-health counters (`tcp.*`), which reordering changes."""
    out = []
    for event in copy.deepcopy(events):
        event.pop("tcp", None)
        event.pop("@timestamp")
        for key in TIMING:
            event["event"].pop(key)
        out.append(event)
    return out


def shuffled_within(packets: list[Packet], window: int, rng: random.Random) -> list[Packet]:
    out: list[Packet] = []
    for i in range(0, len(packets), window):
        chunk = packets[i : i + window]
        rng.shuffle(chunk)
        out += chunk
    return out


def test_in_order_the_conversation_gives_two_http_events() -> None:
    events, stats = run([p for run_ in conversation() for p in run_])
    assert [(e["http"]["request"]["method"], e["http"]["response"]["status_code"]) for e in events] == [
        ("GET", 200), ("POST", 404)]
    assert stats["tcp"]["out_of_order"] == 0 and stats["tcp"]["gaps"] == 0


@settings(max_examples=60, deadline=None)
@given(window=st.integers(min_value=2, max_value=6), seed=st.integers(min_value=0, max_value=2**32))
def test_shuffled_within_the_window_gives_the_same_events_as_in_order(window: int, seed: int) -> None:
    expected, _ = run([p for run_ in conversation() for p in run_])
    rng = random.Random(seed)
    runs = conversation()
    packets = runs[0] + [p for run_ in runs[1:] for p in shuffled_within(run_, window, rng)]
    got, stats = run(packets)
    assert without_timing(got) == without_timing(expected)
    assert stats["tcp"]["gaps"] == 0 and stats["tcp"]["out_of_order_bytes"] == 0


def test_a_fixed_shuffle_is_counted_as_out_of_order() -> None:
    runs = conversation()
    request = runs[1]
    reordered = [request[0], request[2], request[1], *request[3:]]
    got, stats = run(runs[0] + reordered + [p for run_ in runs[2:] for p in run_])
    expected, _ = run([p for run_ in conversation() for p in run_])
    assert without_timing(got) == without_timing(expected)
    assert stats["tcp"]["out_of_order"] == 1
    # The reordering is carried on the transaction it affected (the GET), not on the clean POST.
    assert got[0]["tcp"] == {"gaps": 0, "out_of_order": 1, "overlaps": 0}
    assert "tcp" not in got[1] and all("tcp" not in e for e in expected)


def test_held_back_beyond_the_limit_a_gap_is_reported_and_counted() -> None:
    runs = conversation()
    request = runs[1]
    late = request[1]
    # 20 bytes may wait per direction: by the fourth segment after the hole, it is given up.
    packets = runs[0] + [request[0], *request[2:], late] + [p for run_ in runs[2:] for p in run_]
    events, stats = run(packets, max_out_of_order_bytes_per_connection=20)
    tcp = stats["tcp"]
    assert tcp["gaps"] == 1 and tcp["gaps_over_limit"] == 1
    assert tcp["bytes_lost"] == len(late.payload) == SEGMENT
    assert tcp["retransmissions"] == 1  # the late segment arrives after the stream moved past it
    assert stats["modules"]["http"]["bugs"] == 0
    assert sum(e.get("tcp", {}).get("gaps", 0) for e in events) == 1  # carried on the damaged transaction
    # The second exchange, after the damage, is parsed in full.
    assert [(e["http"]["request"]["method"], e["http"]["response"]["status_code"])
            for e in events if "request" in e.get("http", {}) and "response" in e["http"]][-1] == ("POST", 404)


def test_a_module_with_its_own_max_message_size_is_not_cut_by_the_core_default() -> None:
    # http declares max_message_size itself, so tcp.max_message_size (16 bytes here) does not apply.
    events, stats = run([p for run_ in conversation() for p in run_], max_message_size=16)
    assert [e["http"]["response"]["status_code"] for e in events] == [200, 404]
    assert "over_max_message_size" not in stats["modules"]["http"]
