"""What a user sees for garbage, a capture begun mid-connection, a gap, a server that never answers and
a reply larger than the limits: counted drops or Error events with a note, never a module bug.

Captures are generated (packetshipper.pcapgen) and read through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mongodb_wire as w
from packetshipper.pcapgen import write_pcap
from packetshipper.testing import run_pcap
from test_pgsql_stream_anomalies import Conversation


def conversation(handshake: bool = True) -> Conversation:
    return Conversation(handshake=handshake, port=27017)


def run(tmp_path: Path, c: Conversation, **options: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    path = tmp_path / "anomaly.pcap"
    write_pcap(str(path), c.frames)
    config = {"packetshipper": {"protocols": [{"type": "mongodb", **options}], "flows": {"enabled": False}}}
    result = run_pcap(str(path), config)
    return [e for e in result.events if e["type"] == "mongodb"], result.stats["protocols"]["modules"]["mongodb"]


def find(request_id: int) -> bytes:
    return w.op_msg({"find": "orders", "filter": {}, "$db": "shop"}, request_id=request_id)


def batch(response_to: int, documents: list[dict[str, Any]]) -> bytes:
    return w.op_msg({"cursor": {"firstBatch": documents, "id": 0}, "ok": 1.0}, response_to=response_to)


def test_garbage_is_a_counted_protocol_error_and_the_connection_recovers(tmp_path: Path) -> None:
    c = conversation()
    c.client(b"GET / HTTP/1.1\r\nHost: not-mongo\r\n\r\n")
    c.client(find(1))
    c.server(batch(1, [{"a": 1}]))
    events, stats = run(tmp_path, c)
    assert [(e["method"], e["status"]) for e in events] == [("find", "OK")]
    assert stats["protocol_errors"] == 1 and stats["bugs"] == 0


def test_capture_begun_mid_connection(tmp_path: Path) -> None:
    c = conversation(handshake=False)
    c.server(batch(7, [{"x": "y" * 200}] * 3)[100:])  # the end of a reply whose start was missed
    c.client(find(8))
    c.server(batch(8, []))
    events, stats = run(tmp_path, c)
    assert [(e.get("method"), e["status"]) for e in events][-1] == ("find", "OK")
    assert stats["bugs"] == 0


def test_gap_inside_a_reply_reports_it_with_a_note(tmp_path: Path) -> None:
    c = conversation()
    c.client(find(3))
    reply = batch(3, [{"blob": "b" * 5000}])
    c.server(reply[:1000])
    c.server(reply[1000:3000], lost=True)
    c.wait(3.0)  # past tcp.gap_timeout
    c.server(reply[3000:])
    c.client(find(4))
    c.server(batch(4, []))
    events, stats = run(tmp_path, c)
    first, second = events
    assert first["method"] == "find" and first["status"] == "OK"
    assert first["error"]["message"] == "Packet loss while capturing the message: its body was not read"
    assert first["destination"]["bytes"] == len(reply)
    assert (second["method"], second["status"]) == ("find", "OK")
    assert stats["messages_cut_by_gaps"] == 1 and stats["bugs"] == 0


def test_server_that_never_answers_gives_unmatched_request_events(tmp_path: Path) -> None:
    c = conversation()
    c.client(find(5) + find(6))
    events, stats = run(tmp_path, c)
    assert [(e["status"], e["error"]["message"]) for e in events] == [("Error", "Unmatched request")] * 2
    assert stats["unmatched_requests"] == 2


def test_reply_larger_than_the_limits_is_counted_and_still_paired(tmp_path: Path) -> None:
    c = conversation()
    c.client(find(9))
    reply = batch(9, [{"i": i, "pad": "p" * 1000} for i in range(300)])
    for i in range(0, len(reply), 60_000):
        c.server(reply[i : i + 60_000])
    events, stats = run(tmp_path, c, max_message_size="64KiB")
    (event,) = events
    assert event["method"] == "find" and event["destination"]["bytes"] == len(reply)
    assert event["error"]["message"] == "Message over max_message_size: its body was not read"
    assert stats["oversized_messages"] == 1
