"""The compiled hot path (packetshipper._hotpath) and the pure-Python path give identical results: the
same flow events (TCP health included), the same packets handed to the modules, the same counters, on
random captures of every shape the engine meets. The pure-Python path is the reference."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import hotpath
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL, Decoder
from packetshipper.engine import Engine
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.modules.flows.event import flow_event
from packetshipper.settings import validate
from packetshipper.tcp_health import TcpHealth
from test_decode_framing import damaged_headers, frames_around, link_frames
from test_engine_fast_path_equivalence import RecordingDispatcher, batches_of
from test_flow_tcp_health import Conversation

try:
    COMPILED: Any = importlib.import_module("packetshipper._hotpath")
except ImportError:  # pragma: no cover - the build failed: nothing to compare
    COMPILED = None

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

T0 = 1_700_000_000.0
GAPS = [0.0, 0.0, 0.001, 0.5, 3.0, 11.0, 45.0]  # gaps past the period (10 s) and the timeout (30 s)


@contextmanager
def hot_path(compiled: bool) -> Iterator[None]:
    """Engines made inside run the compiled path (or the pure one), whatever the environment says."""
    saved = hotpath.compiled, hotpath.enabled
    hotpath.compiled, hotpath.enabled = (COMPILED, True) if compiled else (None, False)
    try:
        yield
    finally:
        hotpath.compiled, hotpath.enabled = saved


def run_engine(compiled: bool, linktype: int, batches: list[tuple[bytes, bytes]], flow_settings: dict[str, Any],
               modules: bool = True) -> tuple[list[Any], list[Any], dict[str, Any], dict[str, Any]]:
    """Flow events (as the flows module builds them), dispatched packets and counters of one run; without
    `modules`, flows only (no dispatcher: ICMP too stays in the engine)."""
    events: list[Any] = []

    def emit(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        events.append((flow_event(flow, now, final, counts), flow.client_is_source, flow.closed))

    with hot_path(compiled):
        dispatcher = RecordingDispatcher()
        flows = FlowTable(validate(FLOW_SETTINGS, flow_settings), emit)
        engine = Engine(Decoder(linktype), flows, dispatcher if modules else None)
        assert (engine._compiled is not None) == compiled
        for buf, meta in batches:
            engine.process_batch(buf, meta)
        engine.finish()
    return events, dispatcher.packets, engine.stats(), flows.stats()


def assert_identical(linktype: int, packets: list[tuple[float, bytes]], sizes: list[int],
                     flow_settings: dict[str, Any], modules: bool = True) -> list[Any]:
    batches = batches_of(packets, sizes)
    compiled = run_engine(True, linktype, batches, flow_settings, modules)
    pure = run_engine(False, linktype, batches, flow_settings, modules)
    assert compiled[0] == pure[0]  # flow events
    assert repr(compiled[0]) == repr(pure[0])  # and their keys in the same order
    assert compiled[1] == pure[1]  # packets handed to the modules
    assert compiled[2] == pure[2]  # capture counters (fast path, decoded, malformed, fragments)
    assert compiled[3] == pure[3]  # flow table counters
    return compiled[0]


# --- random captures ------------------------------------------------------------------------------

V4 = ["10.0.0.1", "10.0.0.2", "127.0.0.1", "0.0.0.0"]


@st.composite
def odd_frames(draw: st.DrawFn) -> bytes:
    """Frames the fast path leaves to the reference decoder: QinQ, ICMP, fragments, IP options."""
    src, dst = draw(st.sampled_from(V4)), draw(st.sampled_from(V4))
    kind = draw(st.sampled_from(["qinq", "icmp", "icmp-reply", "first-fragment", "last-fragment", "options"]))
    if kind == "qinq":
        return g.ethernet(g.ipv4(src, dst, 17, g.udp(src, dst, 40000, 53, b"q")), vlans=(5, 6))
    if kind.startswith("icmp"):
        return g.icmp_frame(src, dst, draw(st.integers(0, 3)), draw(st.integers(0, 3)), reply=kind == "icmp-reply")
    if kind == "options":
        return g.ethernet(g.ipv4(src, dst, 6, g.tcp(src, dst, 40000, 80, b"x", flags="PA"), options=bytes(4)))
    ident = draw(st.integers(0, 3))
    datagram = g.udp(src, dst, 40000, 53, bytes(24))
    if kind == "first-fragment":
        return g.ethernet(g.ipv4(src, dst, 17, datagram[:16], ident=ident, flags_fragment=0x2000))
    return g.ethernet(g.ipv4(src, dst, 17, datagram[16:], ident=ident, flags_fragment=2))


@st.composite
def conversation_frames(draw: st.DrawFn) -> list[bytes]:
    """TCP segments of one connection: flag sequences, retransmissions, holes, zero windows."""
    conversation = Conversation(cport=draw(st.sampled_from([40000, 80, 12345])),
                                sport=draw(st.sampled_from([80, 443, 9999])))
    for _ in range(draw(st.integers(1, 12))):
        who = draw(st.sampled_from("cs"))
        other = "s" if who == "c" else "c"
        flags = draw(st.sampled_from(["S", "SA", "A", "A", "PA", "PA", "FA", "RA", "R", "SF", "FRA"]))
        conversation.send(who, flags, draw(st.sampled_from([0, 0, 1, 100, 1448])),
                          seq=(conversation.nxt[who] + draw(st.sampled_from([0, 0, 0, -100, 50, 3000]))) & 0xFFFFFFFF,
                          ack=(conversation.nxt[other] + draw(st.sampled_from([0, 0, -1, 200]))) & 0xFFFFFFFF
                          if "A" in flags else 0, window=draw(st.sampled_from([65535, 65535, 0])))
    return [frame for _, frame in conversation.packets]


@st.composite
def captures(draw: st.DrawFn, linktype: int) -> tuple[list[tuple[float, bytes]], list[int]]:
    parts: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["plain", "plain", "conversation", "damaged"] +
                                    (["odd"] if linktype == LINK_ETHERNET else [])))
        if kind == "plain":
            parts.extend(draw(st.lists(link_frames(linktype), min_size=1, max_size=8)))
        elif kind == "conversation":
            frames = draw(conversation_frames())
            if linktype == LINK_ETHERNET:
                parts.extend(frames)
            else:  # the same IP packets behind the other link header
                parts.extend(draw(frames_around(linktype, frame[14:])) for frame in frames)
        elif kind == "damaged":
            parts.append(draw(damaged_headers(linktype)))
        else:
            parts.extend(draw(st.lists(odd_frames(), min_size=1, max_size=4)))
    order = draw(st.permutations(range(len(parts))))
    ts, packets = T0, []
    for i in order:
        ts += draw(st.sampled_from(GAPS))
        packets.append((ts, parts[i]))
    return packets, draw(st.lists(st.integers(1, 10), max_size=5))


FLOW_VARIANTS = [
    {},
    {"enable_delta_flow_reporting": True, "max_flows": 3, "period": "5s", "timeout": "8s"},
    {"period": -1, "timeout": "2s"},
    {"tcp_health": False},
    {"filters": {"unspecified": True, "loopback": True, "same_endpoints": True, "no_payload": True}},
]


@pytest.mark.parametrize("linktype", [LINK_ETHERNET, LINK_LINUX_SLL])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_captures_give_identical_flow_events_packets_and_counters(linktype: int,
                                                                         data: st.DataObject) -> None:
    packets, sizes = data.draw(captures(linktype))
    assert_identical(linktype, packets, sizes, data.draw(st.sampled_from(FLOW_VARIANTS)))


@pytest.mark.parametrize("linktype", [LINK_ETHERNET, LINK_LINUX_SLL])
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_random_captures_give_identical_flows_with_no_module_listening(linktype: int, data: st.DataObject) -> None:
    packets, sizes = data.draw(captures(linktype))
    assert_identical(linktype, packets, sizes, data.draw(st.sampled_from(FLOW_VARIANTS)), modules=False)


def icmp_capture() -> list[tuple[float, bytes]]:
    """Echo both ways over IPv4 and IPv6, a host pinging itself, VLAN-tagged echo, other message types."""
    frames = [g.icmp_frame("10.1.0.1", "10.1.0.2", 1, seq, reply=reply) for seq in range(3) for reply in (False, True)]
    frames += [g.icmp_frame("fd00::1", "fd00::2", 2, seq, reply=reply) for seq in range(3) for reply in (False, True)]
    frames += [g.icmp_frame("10.1.0.9", "10.1.0.9", 3, seq, reply=reply) for seq in range(2) for reply in (False, True)]
    frames += [g.icmp_frame("fd00::9", "fd00::9", 4, 0, reply=reply) for reply in (False, True)]
    frames += [g.ethernet(g.ipv4("10.1.0.1", "10.1.0.2", 1, g.icmp_echo(5, 0)), vlans=(7,)),
               g.ethernet(g.ipv4("10.1.0.2", "10.1.0.1", 1, g.icmp_echo(5, 0, reply=True)), vlans=(7,)),
               g.ethernet(g.ipv4("10.1.0.3", "10.1.0.1", 1, bytes([3, 3, 0, 0]) + bytes(24))),  # unreachable
               g.ethernet(g.ipv4("10.1.0.9", "10.1.0.9", 1, bytes([14, 0, 0, 0]) + bytes(16)))]  # timestamp reply
    return [(T0 + 0.5 * i, frame) for i, frame in enumerate(frames)]


@pytest.mark.parametrize("modules", [True, False])
def test_icmp_flows_are_the_same_on_both_paths(modules: bool) -> None:
    events = assert_identical(LINK_ETHERNET, icmp_capture(), [3, 1, 64], {"period": "2s"}, modules)
    finals = [event for event, _, _ in events if event["flow"]["final"]]
    assert len(finals) == 6  # v4 pair, v6 pair, two self-pingers, the VLAN pair, the unreachable's sender
    self_ping = next(event for event in finals if event["source"]["ip"] == "10.1.0.9")
    assert (self_ping["source"]["packets"], self_ping["destination"]["packets"]) == (2, 3)  # replies count back


def test_a_long_flow_crossing_periods_and_a_timeout_reports_the_same_on_both_paths() -> None:
    conversation = Conversation().handshake()
    for i in range(40):  # 1448-byte segments every 0.7 s, one retransmitted, one lost, a zero window
        if i == 25:
            conversation.send("s", "A", window=0, dt=0.7)
            continue
        seq = None if i != 11 else conversation.nxt["c"] - 1448
        if i == 17:
            conversation.nxt["c"] += 1448  # a segment the sensor never saw
        conversation.send("c", "PA", 1448, seq=seq, dt=0.7).send("s", "A", dt=0.01)
    conversation.send("c", "FA", dt=40.0).send("s", "FA").send("c", "A")  # after the timeout: a new flow
    events = assert_identical(LINK_ETHERNET, conversation.packets, [7, 3, 64], {"period": "10s", "timeout": "30s"})
    # The clock starts at a whole 10 s: reports at +10 ... +50 s, the end at the first sweep (+60 s) past
    # the timeout after the last packet (+28.4 s); then the late FIN and its answer are a flow of their own.
    assert [(event["flow"]["final"], event["network"]["packets"]) for event, _, _ in events] == [
        (False, 31), (False, 58), (False, 82), (False, 82), (False, 82), (True, 82), (True, 3)]
    tcp = events[5][0]["tcp"]
    assert (tcp["source"]["retransmitted_packets"], tcp["source"]["retransmitted_bytes"]) == (1, 1448)
    assert tcp["source"]["gap_bytes"] == 1448
    assert tcp["destination"]["zero_windows"] == 1
    assert events[6][0]["tcp"]["connection_state"] == "SF"


# --- TCP health on its own ---------------------------------------------------------------------------

SEGMENTS = st.tuples(st.integers(0, 1), st.sampled_from(GAPS), st.integers(0, 255),
                     st.sampled_from([0, 1, 1000, 2**31 - 1, 2**31, 2**32 - 1, 2**32 - 1000]),
                     st.sampled_from([0, 1, 1000, 2**31, 2**32 - 1]),
                     st.sampled_from([0, 1, 65535]), st.sampled_from([0, 0, 1, 100, 1448, 70000]))


@settings(max_examples=400, deadline=None)
@given(client_is_source=st.booleans(), segments=st.lists(SEGMENTS, max_size=60), drift=st.integers(0, 3000))
def test_compiled_tcp_health_follows_the_reference_segment_by_segment(
        client_is_source: bool, segments: list[tuple[int, float, int, int, int, int, int]], drift: int) -> None:
    pure, compiled = TcpHealth(client_is_source), COMPILED.TcpHealth(client_is_source)
    ts = T0
    for step, (d, gap, flags, seq, ack, window, plen) in enumerate(segments):
        ts += gap
        seq = (seq + step * drift) & 0xFFFFFFFF  # sequence numbers that move, so segments line up too
        pure.update(d, ts, flags, seq, ack, window, plen)
        compiled.update(d, ts, flags, seq, ack, window, plen)
        assert compiled.fields(False) == pure.fields(False)
        assert compiled.carried_payload() == pure.carried_payload()
    assert compiled.fields(True) == pure.fields(True)
    assert compiled.history == pure.history


def test_new_flows_are_made_alike_on_both_paths_callback_filters_and_limit_included() -> None:
    """The compiled path makes a new TCP/UDP flow itself (FlowTable.update's steps): the on_new_flow hook
    sees the same flows in the same state, filters mark the same ones, max_flows refuses the same."""
    conversation = Conversation().handshake().send("c", "PA", 100).send("s", "PA", 50).send("c", "FA")
    frames = [frame for _, frame in conversation.packets]
    frames += [g.udp_frame("127.0.0.1", "10.2.0.1", 5353, 40000, b"x"), g.udp_frame("10.2.0.1", "127.0.0.1", 40000, 5353),
               g.tcp_frame("10.2.0.2", "10.2.0.3", 443, 50000, flags="SA"), g.tcp_frame("10.2.0.4", "10.2.0.5", 1, 2),
               g.udp_frame("10.2.0.6", "10.2.0.6", 7, 7)]
    packets = [(T0 + 0.1 * i, frame) for i, frame in enumerate(frames)]

    def run(compiled: bool, settings_: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        seen: list[Any] = []
        with hot_path(compiled):
            flows = FlowTable(validate(FLOW_SETTINGS, settings_), lambda *args: None,
                              on_new_flow=lambda flow: seen.append((flow.key, flow.start, flow.flow_id,
                                                                    flow.packets0, flow.filtered)))
            engine = Engine(Decoder(LINK_ETHERNET), flows, None)
            for buf, meta in batches_of(packets, [2, 64]):
                engine.process_batch(buf, meta)
            seen.append(sorted((f.key, f.client_is_source, f.filtered, f.packets0, f.packets1)
                               for f in flows._flows.values()))
        return seen, flows.stats()

    for settings_ in ({}, {"max_flows": 3}, {"filters": {"loopback": True, "same_endpoints": True}}):
        compiled, pure = run(True, settings_), run(False, settings_)
        assert compiled == pure
    assert run(True, {"max_flows": 3})[1]["refused"] == 2  # five flows: the last two (a packet each) refused
    assert run(True, {"filters": {"loopback": True, "same_endpoints": True}})[1]["filtered"] == {
        "loopback": 1, "same_endpoints": 1}
