"""Segments of a connection already closed, sent again (a capture that sees each packet twice, a late
retransmission): dropped and counted, never taken for a new connection picked up mid-stream."""

from __future__ import annotations

import collections
from pathlib import Path

from packetshipper.pcapgen import http_request, http_response, tcp_frame, write_pcap
from packetshipper.testing import run_pcap

DATA = Path(__file__).parent / "pcaps" / "packetbeat"
HTTP = {"packetshipper": {"protocols": [{"type": "http", "ports": [8888, 80]}], "flows": {"enabled": False}}}


def test_wsgi_drum_gives_packetbeats_16_transactions() -> None:
    # Packetbeat's system test expects 16 events; tshark -Y http shows 16 request/response pairs (11 x 200,
    # 4 x 302, 1 x 500). The capture repeats SYNs and response heads after each connection closed.
    run = run_pcap(str(DATA / "wsgi_drum.pcap"), HTTP)
    events = [e for e in run.events if e["type"] == "http"]
    assert len(events) == 16
    assert collections.Counter(e["http"]["response"]["status_code"] for e in events) == {200: 11, 302: 4, 500: 1}
    assert not any("error" in e for e in events if e["http"]["response"]["status_code"] != 500)
    assert run.stats["protocols"]["tcp"]["stale_segments"] > 0


def _connection(isn_c: int, isn_s: int, t0: float) -> list[tuple[float, bytes]]:
    c, s = "10.0.0.1", "10.0.0.2"
    request, response = http_request("/", "example.com"), http_response(b"ok")
    frames = [tcp_frame(c, s, 40000, 80, flags="S", seq=isn_c),
              tcp_frame(s, c, 80, 40000, flags="SA", seq=isn_s, ack=isn_c + 1),
              tcp_frame(c, s, 40000, 80, request, flags="PA", seq=isn_c + 1, ack=isn_s + 1),
              tcp_frame(s, c, 80, 40000, response, flags="PA", seq=isn_s + 1, ack=isn_c + 1 + len(request)),
              tcp_frame(c, s, 40000, 80, flags="FA", seq=isn_c + 1 + len(request), ack=isn_s + 1 + len(response)),
              tcp_frame(s, c, 80, 40000, flags="FA", seq=isn_s + 1 + len(response), ack=isn_c + 2 + len(request))]
    return [(t0 + i * 0.01, frame) for i, frame in enumerate(frames)]


def test_a_replayed_syn_and_response_after_the_close_are_stale(tmp_path: Path) -> None:
    first = _connection(1000, 5000, 1_700_000_000.0)
    replayed = [(1_700_000_001.0, first[0][1]), (1_700_000_001.01, first[3][1])]  # the SYN, the response
    write_pcap(str(tmp_path / "stale.pcap"), first + replayed)
    run = run_pcap(str(tmp_path / "stale.pcap"), HTTP)
    events = [e for e in run.events if e["type"] == "http"]
    assert [e["status"] for e in events] == ["OK"]
    assert run.stats["protocols"]["tcp"]["stale_segments"] == 2
    assert run.stats["protocols"]["tcp"]["connections_total"] == 1


def test_a_new_syn_on_the_same_ports_is_a_new_connection(tmp_path: Path) -> None:
    packets = _connection(1000, 5000, 1_700_000_000.0) + _connection(900_000, 7_000_000, 1_700_000_002.0)
    write_pcap(str(tmp_path / "reuse.pcap"), packets)
    run = run_pcap(str(tmp_path / "reuse.pcap"), HTTP)
    assert [e["status"] for e in run.events if e["type"] == "http"] == ["OK", "OK"]
    assert run.stats["protocols"]["tcp"]["connections_total"] == 2


def test_closed_connections_are_not_remembered_with_zero(tmp_path: Path) -> None:
    first = _connection(1000, 5000, 1_700_000_000.0)
    write_pcap(str(tmp_path / "stale.pcap"), first + [(1_700_000_001.0, first[3][1])])
    config = {"packetshipper": {**HTTP["packetshipper"], "tcp": {"max_closed_remembered": 0}}}
    events = [e for e in run_pcap(str(tmp_path / "stale.pcap"), config).events if e["type"] == "http"]
    assert [e.get("error", {}).get("message") for e in events] == [None, "Unmatched response"]
