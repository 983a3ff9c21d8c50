"""What a user sees for garbage, a capture begun mid-connection, a gap, a server that never answers and
a result larger than the limits: counted drops or Error events with a note, never a module bug.

Captures are generated (packetshipper.pcapgen) and read through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pgsql_wire as w
from packetshipper.pcapgen import tcp_frame, write_pcap
from packetshipper.testing import run_pcap

CLIENT, SERVER = "10.1.0.1", "10.1.0.2"


class Conversation:
    """Frames of one TCP connection to `port`, each send one segment; `lost` ones are never written."""

    def __init__(self, sport: int = 40001, handshake: bool = True, port: int = 5432) -> None:
        self.sport, self.port, self.ts = sport, port, 1_700_000_000.0
        self.frames: list[tuple[float, bytes]] = []
        self.seq = {True: 1000, False: 5000}
        if handshake:
            self._frame(True, b"", "S", -1)
            self._frame(False, b"", "SA", -1)
            self._frame(True, b"", "A", 0)

    def _frame(self, from_client: bool, data: bytes, flags: str, offset: int) -> None:
        self.ts += 0.001
        seq, ack = self.seq[from_client] + offset, self.seq[not from_client]
        src, dst, sport, dport = ((CLIENT, SERVER, self.sport, self.port) if from_client else
                                  (SERVER, CLIENT, self.port, self.sport))
        self.frames.append((self.ts, tcp_frame(src, dst, sport, dport, data, flags=flags, seq=seq, ack=ack)))

    def send(self, from_client: bool, data: bytes, *, lost: bool = False) -> None:
        if not lost:
            self._frame(from_client, data, "PA", 0)
        self.seq[from_client] += len(data)

    def client(self, data: bytes) -> None:
        self.send(True, data)

    def server(self, data: bytes, *, lost: bool = False) -> None:
        self.send(False, data, lost=lost)

    def wait(self, seconds: float) -> None:
        self.ts += seconds


def run(tmp_path: Path, conversation: Conversation, **options: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    path = tmp_path / "anomaly.pcap"
    write_pcap(str(path), conversation.frames)
    config = {"packetshipper": {"protocols": [{"type": "pgsql", **options}], "flows": {"enabled": False}}}
    result = run_pcap(str(path), config)
    return [e for e in result.events if e["type"] == "pgsql"], result.stats["protocols"]["modules"]["pgsql"]


def test_garbage_is_a_counted_protocol_error_and_the_connection_recovers(tmp_path: Path) -> None:
    c = Conversation()
    c.client(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1garbage that is not PostgreSQL")
    c.server(b"\xff\xfe\x00\x01 more garbage")
    c.client(w.query("SELECT 1"))
    c.server(w.select_result(["n"], [["1"]]) + w.ready())
    events, stats = run(tmp_path, c)
    assert [(e["query"], e["status"]) for e in events] == [("SELECT 1", "OK")]
    assert stats["protocol_errors"] == 2 and stats["bugs"] == 0


def test_capture_begun_mid_connection(tmp_path: Path) -> None:
    c = Conversation(handshake=False)
    tail = w.select_result(["v"], [["x" * 300]] * 3)[150:]  # the end of a result whose start was missed
    c.server(tail + w.ready())
    c.client(w.query("SELECT 2"))
    c.server(w.select_result(["n"], [["2"]]) + w.ready())
    events, stats = run(tmp_path, c)
    assert [(e.get("query"), e["status"]) for e in events][-1] == ("SELECT 2", "OK")
    assert stats["bugs"] == 0


def test_gap_inside_a_row_keeps_the_statement_with_a_packet_loss_note(tmp_path: Path) -> None:
    c = Conversation()
    c.client(w.query("SELECT blob FROM t"))
    result = w.select_result(["blob"], [["a" * 3000], ["b" * 3000]])
    c.server(result[:1000])
    c.server(result[1000:2000], lost=True)  # inside the first row's value
    c.wait(3.0)  # past tcp.gap_timeout: the hole is given up on
    c.server(result[2000:] + w.ready())
    c.client(w.query("SELECT 3"))
    c.server(w.select_result(["n"], [["3"]]) + w.ready())
    events, stats = run(tmp_path, c)
    first, second = events
    assert first["query"] == "SELECT blob FROM t" and first["pgsql"]["num_rows"] == 2
    assert first["error"]["message"] == "Packet loss while capturing the response"
    assert first["tcp"]["gaps"] == 1
    assert (second["query"], second["status"]) == ("SELECT 3", "OK")
    assert stats["bugs"] == 0


def test_server_that_never_answers_gives_unmatched_request_events(tmp_path: Path) -> None:
    c = Conversation()
    c.client(w.query("SELECT pg_sleep(1000)"))
    events, stats = run(tmp_path, c)
    (event,) = events
    assert event["status"] == "Error" and event["error"]["message"] == "Unmatched request"
    assert event["query"] == "SELECT pg_sleep(1000)"
    assert stats["unmatched_requests"] == 1


def test_result_larger_than_the_limits_is_counted_and_the_event_kept(tmp_path: Path) -> None:
    c = Conversation()
    c.client(w.query("SELECT huge FROM t"))
    result = w.select_result(["huge"], [["h" * 300_000], ["small"]])
    for i in range(0, len(result), 60_000):
        c.server(result[i : i + 60_000])
    c.server(w.ready())
    events, stats = run(tmp_path, c, max_message_size="64KiB", send_response=True)
    (event,) = events
    assert event["status"] == "OK" and event["pgsql"]["num_rows"] == 2
    assert event["response"] == "huge\nsmall\n"  # the oversized row is counted, not kept
    assert event["destination"]["bytes"] == len(result)
    assert stats["oversized_messages"] == 1
