"""Segments of TCP connections the dispatcher's table holds take TcpTable.segment's steps inside the compiled
batch loop (no `_dispatch_fast`/`segment` frames): the events, the dispatcher's counters and the engine's
are those of the pure-Python path, on corpus captures and on a crafted one with bare ACKs, retransmissions,
data after a FIN, a RST, a SYN reusing the ports and a segment of a connection never seen."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from packetshipper import hotpath
from packetshipper import pcapgen as g
from packetshipper.capture import FileSource
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.dispatch import Dispatcher
from packetshipper.engine import Engine
from packetshipper.event import Envelope
from packetshipper.flows import FLOW_SETTINGS, FlowTable
from packetshipper.modules.flows.event import flow_event
from packetshipper.registry import build_modules
from packetshipper.settings import validate

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
META = struct.Struct("=IIII")
T0 = 1_700_000_000.0
needs_compiled = pytest.mark.skipif(hotpath.compiled is None, reason="the compiled hot path is not built")


def _crafted() -> tuple[list[tuple[bytes, bytes]], int]:
    c, s = "10.3.0.1", "10.3.0.80"
    req, resp = g.http_request("/a", "example.org"), g.http_response(b"x" * 300)
    frames = [
        g.tcp_frame(c, s, 40000, 80, flags="S", seq=100),
        g.tcp_frame(s, c, 80, 40000, flags="SA", seq=900, ack=101),
        g.tcp_frame(c, s, 40000, 80, flags="A", seq=101, ack=901),  # a bare ACK
        g.tcp_frame(c, s, 40000, 80, req, flags="PA", seq=101, ack=901),
        g.tcp_frame(c, s, 40000, 80, req, flags="PA", seq=101, ack=901),  # retransmitted
        g.tcp_frame(s, c, 80, 40000, resp, flags="PA", seq=901, ack=101 + len(req)),
        g.tcp_frame(c, s, 40000, 80, flags="FA", seq=101 + len(req), ack=901 + len(resp)),
        g.tcp_frame(s, c, 80, 40000, flags="A", seq=901 + len(resp), ack=102 + len(req)),  # ACK after a FIN
        g.tcp_frame(s, c, 80, 40000, resp[:10], flags="PA", seq=901 + len(resp), ack=102 + len(req)),
        g.tcp_frame(s, c, 80, 40000, flags="FA", seq=911 + len(resp), ack=102 + len(req)),
        g.tcp_frame(c, s, 40000, 80, flags="A", seq=102 + len(req), ack=912 + len(resp)),  # after both FINs
        g.tcp_frame(c, s, 40001, 80, flags="S", seq=5),
        g.tcp_frame(s, c, 80, 40001, flags="SA", seq=50, ack=6),
        g.tcp_frame(c, s, 40001, 80, req, flags="PA", seq=6, ack=51),
        g.tcp_frame(s, c, 80, 40001, flags="R", seq=51),  # reset with the request unanswered
        g.tcp_frame(c, s, 40001, 80, flags="S", seq=7000),  # a new connection on the same ports
        g.tcp_frame(s, c, 80, 40001, flags="SA", seq=8000, ack=7001),
        g.tcp_frame(c, s, 40001, 80, req, flags="PA", seq=7001, ack=8001),
        g.tcp_frame(s, c, 80, 40001, resp, flags="PA", seq=8001, ack=7001 + len(req)),
        g.tcp_frame(c, s, 40002, 80, flags="A", seq=1, ack=1),  # never seen: nothing to learn
        g.tcp_frame(c, s, 40003, 80, req, flags="PA", seq=1, ack=1),  # picked up mid-stream
        g.tcp_frame(s, c, 80, 40003, resp, flags="PA", seq=1, ack=1 + len(req)),
    ]
    batches = []
    for start in range(0, len(frames), 4):
        buf, meta = bytearray(), bytearray()
        for i, frame in enumerate(frames[start : start + 4], start):
            ts = T0 + 0.01 * i
            meta += META.pack(int(ts), round((ts - int(ts)) * 1e6), len(buf), len(frame))
            buf += frame
        batches.append((bytes(buf), bytes(meta)))
    return batches, LINK_ETHERNET


def _corpus(name: str) -> tuple[list[tuple[bytes, bytes]], int]:
    source = FileSource(str(PCAPS / name))
    batches = [(bytes(buf), bytes(meta)) for buf, meta in source.batches() if meta]
    source.close()
    return batches, source.linktype


def _run(capture: tuple[list[tuple[bytes, bytes]], int], compiled: bool) -> tuple[Any, ...]:
    batches, linktype = capture
    events: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    saved = hotpath.enabled
    hotpath.enabled = compiled
    try:
        dispatcher = Dispatcher(build_modules([{"type": "http"}]), events.append, Envelope("test"), {})
        flows = FlowTable(validate(FLOW_SETTINGS, {}), lambda *report: reports.append(flow_event(*report)))
        engine = Engine(Decoder(linktype), flows, dispatcher)
        for buf, meta in batches:
            engine.process_batch(buf, meta)
        engine.finish()
    finally:
        hotpath.enabled = saved
    return events, reports, dispatcher.stats(), engine.dispatched, engine.fast_path, engine.received


@needs_compiled
@pytest.mark.parametrize("name", ["crafted", "http_minitwit.pcap", "http_post.pcap", "http_get_2k_file.pcap",
                                  "http_10_connection_close.pcap", "http_unmatched.pcap", "http_over_vlan.pcap"])
def test_known_segments_in_the_compiled_loop_give_what_the_pure_path_gives(name: str,
                                                                             assert_valid_event: Any) -> None:
    capture = _crafted() if name == "crafted" else _corpus(name)
    compiled, pure = _run(capture, True), _run(capture, False)
    assert compiled == pure
    events, _, stats, dispatched, _, received = compiled
    assert events and dispatched <= received
    for event in events:
        assert_valid_event(event)
    if name == "crafted":
        assert stats["tcp"]["connections_total"] == 4  # the reused ports opened a connection of their own
        assert sum(event.get("status") == "OK" for event in events) >= 2
