"""Datagrams and ICMP messages of flows the dispatcher knows skip the Packet (`udp_datagram`, `icmp_message`),
and a module with ProtocolModule's port rule for `direction_of` is not asked it (the table's answer is its): the events and
counters are those of the reference, where every packet goes whole through `Dispatcher.handle` and
`direction_of` is asked at every datagram. Both engine paths (compiled and pure Python) are checked."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from packetshipper import hotpath
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.decode.packet import Packet
from packetshipper.dispatch import Dispatcher
from packetshipper.engine import Engine
from packetshipper.event import Envelope
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.modules.dns.module import DnsModule
from packetshipper.modules.flows.event import flow_event
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction
from packetshipper.registry import build_modules
from packetshipper.settings import validate

META = struct.Struct("=IIII")
T0 = 1_700_000_000.0


def _dns_frames() -> list[bytes]:
    frames = []
    for i, (client, server) in enumerate([("10.2.0.1", "10.2.0.53"), ("10.2.0.2", "10.2.0.53"),
                                          ("fd00::2", "fd00::53")]):
        name = f"host{i}.example.org"
        frames += [g.udp_frame(client, server, 40000 + i, 53, g.dns_query(i, name)),
                   g.udp_frame(server, client, 53, 40000 + i, g.dns_a_response(i, name, ["192.0.2.7"]))]
    frames += [
        # both ends on the module's port: the first sender is the client
        g.udp_frame("10.2.0.60", "10.2.0.53", 53, 53, g.dns_query(70, "both.example")),
        g.udp_frame("10.2.0.53", "10.2.0.60", 53, 53, g.dns_a_response(70, "both.example", ["192.0.2.8"])),
        # a response first: its sender (port 53) is still the server
        g.udp_frame("10.2.0.53", "10.2.0.61", 53, 41000, g.dns_a_response(71, "late.example", ["192.0.2.9"])),
        g.udp_frame("10.2.0.61", "10.2.0.53", 41000, 53, g.dns_query(72, "late.example")),
        # a query repeated before its answer, and one never answered
        g.udp_frame("10.2.0.62", "10.2.0.53", 41001, 53, g.dns_query(73, "again.example")),
        g.udp_frame("10.2.0.62", "10.2.0.53", 41001, 53, g.dns_query(73, "again.example")),
        g.udp_frame("10.2.0.62", "10.2.0.53", 41001, 53, g.dns_query(74, "never.example")),
        g.udp_frame("10.2.0.62", "10.2.0.53", 41001, 53, b"\x00\x01"),  # not DNS: a protocol error
    ]
    return frames


def _icmp_frames() -> list[bytes]:
    frames = [g.icmp_frame("10.1.0.1", "10.1.0.2", 1, seq, reply=reply) for seq in range(3) for reply in (False, True)]
    frames += [g.icmp_frame("fd00::1", "fd00::2", 2, seq, reply=reply) for seq in range(3) for reply in (False, True)]
    frames += [g.icmp_frame("10.1.0.9", "10.1.0.9", 3, seq, reply=reply) for seq in range(2) for reply in (False, True)]
    frames += [g.icmp_frame("10.1.0.2", "10.1.0.1", 6, 0), g.icmp_frame("10.1.0.1", "10.1.0.2", 6, 0, reply=True),
               g.icmp_frame("10.1.0.2", "10.1.0.1", 7, 0, reply=True),  # a reply without request
               g.ethernet(g.ipv4("10.1.0.1", "10.1.0.2", 1, g.icmp_echo(5, 0)), vlans=(7,)),
               g.ethernet(g.ipv4("10.1.0.2", "10.1.0.1", 1, g.icmp_echo(5, 0, reply=True)), vlans=(7,)),
               g.ethernet(g.ipv4("10.1.0.3", "10.1.0.1", 1, bytes([3, 3, 0, 0]) + bytes(24)))]  # unreachable
    return frames


def _capture() -> list[tuple[bytes, bytes]]:
    """The frames interleaved (DNS and ICMP alternate), 0.25 s apart, in batches of 5."""
    dns, icmp = _dns_frames(), _icmp_frames()
    frames = [f for pair in zip(dns, icmp, strict=False) for f in pair]
    frames += dns[len(icmp):] + icmp[len(dns):]
    batches = []
    for start in range(0, len(frames), 5):
        buf, meta = bytearray(), bytearray()
        for i, frame in enumerate(frames[start : start + 5], start):
            ts = T0 + 0.25 * i
            meta += META.pack(int(ts), round((ts - int(ts)) * 1e6), len(buf), len(frame))
            buf += frame
        batches.append((bytes(buf), bytes(meta)))
    return batches


def _run(modules: list[Any], reference: bool) -> tuple[list[dict[str, Any]], dict[str, Any], int, int]:
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher(modules, events.append, Envelope("test"), {})
    handled = 0
    handle = dispatcher.handle

    def counting_handle(pkt: Packet) -> None:
        nonlocal handled
        handled += 1
        handle(pkt)

    dispatcher.handle = counting_handle  # type: ignore[method-assign]
    if reference:
        del dispatcher.udp_datagram, dispatcher.icmp_message  # the engine finds none: every packet is whole
        for runner in dispatcher.runners:
            runner.by_ports = False
    engine = Engine(Decoder(LINK_ETHERNET), None, dispatcher)
    for buf, meta in _capture():
        engine.process_batch(buf, meta)
    engine.finish()
    return events, dispatcher.stats(), handled, engine.dispatched


@pytest.fixture(params=[True, False], ids=["compiled", "pure"])
def engine_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param and hotpath.compiled is None:
        pytest.skip("the compiled hot path is not built")
    monkeypatch.setattr(hotpath, "enabled", request.param)


@pytest.mark.usefixtures("engine_path")
def test_known_flows_skip_the_packet_and_publish_what_the_whole_packet_path_does(
        assert_valid_event: Any) -> None:
    events, stats, handled, dispatched = _run(build_modules([{"type": "dns"}, {"type": "icmp"}]), reference=False)
    ref_events, ref_stats, ref_handled, _ = _run(build_modules([{"type": "dns"}, {"type": "icmp"}]), reference=True)
    assert events == ref_events
    assert stats == ref_stats
    # Only each flow's first packet went whole (the rest took the known-flow calls); the reference: all.
    opened = stats["udp"]["flows_total"] + stats["icmp"]["flows_total"]
    assert handled == opened < ref_handled == dispatched == len(_dns_frames()) + len(_icmp_frames())
    assert {e["type"] for e in events} == {"dns", "icmp"}
    assert stats["modules"]["dns"]["protocol_errors"] == 1
    for event in events:
        assert_valid_event(event)
    both = next(e for e in events if e.get("query") == "class IN, type A, both.example")
    assert (both["client"]["ip"], both["status"]) == ("10.2.0.60", "OK")
    late = [e for e in events if e.get("resource") == "late.example"]
    assert sorted(e["dns"]["type"] for e in late) == ["answer", "query"]
    assert {e["server"]["ip"] for e in late} == {"10.2.0.53"}


class _AskedDns(DnsModule):
    """DNS with its own `direction_of` (the opposite of the port rule, on odd calls only): the table must ask
    it every time. It notes the direction each datagram came with."""

    asked = 0
    directions: list[Direction] = []

    def direction_of(self, connection: Connection, src_port: int, dst_port: int) -> Direction | None:
        type(self).asked += 1
        said = super().direction_of(connection, src_port, dst_port)
        return None if said is None or not self.asked % 2 else said.other

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        self.directions.append(direction)
        return super().parse_datagram(data, ts, direction, connection)


@pytest.mark.usefixtures("engine_path")
def test_a_module_with_its_own_direction_of_is_asked_at_every_datagram() -> None:
    def modules() -> list[Any]:
        return [_AskedDns(validate({**COMMON_SETTINGS, **DnsModule.settings}, {"type": "dns", "ports": [53]}))]

    _AskedDns.asked, _AskedDns.directions = 0, []
    events, stats, _, _ = _run(modules(), reference=False)
    asked, directions = _AskedDns.asked, _AskedDns.directions
    _AskedDns.asked, _AskedDns.directions = 0, []
    ref_events, ref_stats, _, _ = _run(modules(), reference=True)
    assert asked == _AskedDns.asked == len(_dns_frames())
    assert directions == _AskedDns.directions
    assert (events, stats) == (ref_events, ref_stats)
    # The first flow: its query (asked 1st: flipped) came as a response, its answer (2nd: the port rule) too.
    assert directions[:2] == [Direction.RESPONSE, Direction.RESPONSE]


def _run_with_flows(compiled: bool) -> tuple[list[dict[str, Any]], list[Any], dict[str, Any], dict[str, Any]]:
    events: list[dict[str, Any]] = []
    reports: list[Any] = []

    def report(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        reports.append((flow_event(flow, now, final, counts), flow.client_is_source))

    saved = hotpath.enabled
    hotpath.enabled = compiled
    try:
        dispatcher = Dispatcher(build_modules([{"type": "dns"}, {"type": "icmp"}]), events.append, Envelope("test"), {})
        flows = FlowTable(validate(FLOW_SETTINGS, {"period": "2s"}), report)
        engine = Engine(Decoder(LINK_ETHERNET), flows, dispatcher)
        assert (engine._compiled is not None) == compiled
        for buf, meta in _capture():
            engine.process_batch(buf, meta)
        engine.finish()
    finally:
        hotpath.enabled = saved
    return events, reports, dispatcher.stats(), {**engine.stats(), **flows.stats()}


@pytest.mark.skipif(hotpath.compiled is None, reason="the compiled hot path is not built")
def test_the_compiled_icmp_step_and_event_stamps_give_what_the_pure_path_gives() -> None:
    compiled, pure = _run_with_flows(True), _run_with_flows(False)
    assert repr(compiled[0]) == repr(pure[0])  # transaction events, keys in the same order
    assert repr(compiled[1]) == repr(pure[1])  # flow reports
    assert compiled[2:] == pure[2:]  # dispatcher, engine and flow-table counters
    icmp_flows = [event for event, _ in compiled[1] if event["network"]["transport"] in ("icmp", "ipv6-icmp")]
    assert icmp_flows and {e["type"] for e in compiled[0]} == {"dns", "icmp"}
