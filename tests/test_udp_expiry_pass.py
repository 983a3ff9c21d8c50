"""The UDP/ICMP tables' once-a-second pass visits only flows that are idle or have something to expire.

The reference is the pass it replaced: every flow, in the order the flows opened, closed if idle past
`idle_timeout`, else its session's `expire` called. Both run on the same datagrams and ticks (hypothesis
draws them) and must publish the same events in the same order.
"""

from __future__ import annotations

import socket
from typing import Any

import dns_wire as w
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.decode.packet import Packet
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.fields import validate_event
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.registry import build_modules
from packetshipper.settings import validate
from packetshipper.udp import DatagramTable
from plugin_example.lineproto import LineModule


def _every_flow_pass(table: DatagramTable, now: float) -> None:
    for flow in list(table.flows.values()):
        if now - flow.last_seen > table.idle_timeout:
            table.expired += 1
            table._close(flow, now, "expired")
        else:
            flow.runner.expire(flow.session, now)


def _dispatchers(modules: Any) -> tuple[list[Dispatcher], list[list[dict[str, Any]]]]:
    out, logs = [], []
    for reference in (False, True):
        events: list[dict[str, Any]] = []
        d = Dispatcher(modules(), events.append, Envelope("test"), {"udp": {"idle_timeout": "30s"}})
        if reference:
            d.udp.tick = _every_flow_pass.__get__(d.udp)  # type: ignore[method-assign]
        out.append(d)
        logs.append(events)
    return out, logs


def _udp(sport: int, payload: bytes, ts: float, answer: bool) -> Packet:
    client, server = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.53")
    if answer:
        return Packet(ts, 42 + len(payload), 4, server, client, 17, 53, sport, payload)
    return Packet(ts, 42 + len(payload), 4, client, server, 17, sport, 53, payload)


def _dns(ident: int, answer: bool) -> bytes:
    if answer:
        return w.message(ident, w.flags(qr=True, rd=True, ra=True), [w.question("example.com")],
                         [w.rr("example.com", w.A, w.a("192.0.2.1"))])
    return w.query("example.com", ident=ident)


def _line(ident: int, answer: bool) -> bytes:
    return f"{'a' if answer else 'q'}{ident}\n".encode()


def _dns_modules() -> list[Any]:
    return build_modules([{"type": "dns", "ports": [53], "transaction_timeout": "5s"}])


def _line_modules() -> list[Any]:
    return [LineModule(validate({**COMMON_SETTINGS, **LineModule.settings},
                                {"type": "lineproto", "ports": [53], "transaction_timeout": "5s"}))]


def _summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["type"], e["status"], e["client"]["port"], e["@timestamp"], e.get("error", {}).get("message"))
            for e in events]


steps = st.lists(st.one_of(
    st.tuples(st.just("datagram"), st.integers(4000, 4011), st.integers(0, 3), st.booleans(),
              st.floats(0.0, 20.0)),
    st.tuples(st.just("tick"), st.floats(0.0, 45.0)),
), max_size=60)


def _run(modules: Any, encode: Any, plan: list[tuple[Any, ...]]) -> tuple[list[Any], list[Any], list[Any]]:
    (fast, reference), (fast_events, reference_events) = _dispatchers(modules)
    now = 1_000.0
    for step in plan:
        if step[0] == "datagram":
            _, sport, ident, answer, gap = step
            now += gap
            for d in (fast, reference):
                d.handle(_udp(sport, encode(ident, answer), now, answer))
        else:
            now += step[1]
            for d in (fast, reference):
                d.tick(now)
    for d in (fast, reference):
        d.tick(now + 100.0)  # every flow idle by then
    return fast_events, reference_events, [fast.stats()["udp"], reference.stats()["udp"]]


@settings(max_examples=150, deadline=None)
@given(steps)
def test_dns_flows_give_the_events_of_a_pass_over_every_flow(plan: list[tuple[Any, ...]]) -> None:
    fast, reference, (fast_stats, reference_stats) = _run(_dns_modules, _dns, plan)
    assert _summary(fast) == _summary(reference)
    assert fast_stats == reference_stats
    for event in fast:
        assert not validate_event(event)


@settings(max_examples=100, deadline=None)
@given(steps)
def test_a_module_without_has_pending_gives_the_events_of_a_pass_over_every_flow(plan: list[tuple[Any, ...]]) -> None:
    fast, reference, (fast_stats, reference_stats) = _run(_line_modules, _line, plan)
    assert _summary(fast) == _summary(reference)
    assert fast_stats == reference_stats


def test_an_unanswered_query_times_out_and_an_answered_flow_waits_for_its_idle_timeout() -> None:
    (d, _), (events, _) = _dispatchers(_dns_modules)
    d.handle(_udp(4000, _dns(1, False), 100.0, False))
    d.handle(_udp(4000, _dns(1, True), 100.1, True))  # answered: nothing left for expire
    d.handle(_udp(4001, _dns(2, False), 100.2, False))  # never answered
    assert len(events) == 1
    d.tick(105.1)
    assert len(events) == 1  # 4.9 s: within the 5 s transaction timeout
    d.tick(105.3)
    assert [(e["client"]["port"], e["status"]) for e in events] == [(4000, "OK"), (4001, "Error")]
    d.handle(_udp(4000, _dns(3, False), 120.0, False))  # the answered flow is busy again
    d.tick(130.15)  # 4001 idle for 29.95 s, 4000 for 10.15 s: both stay
    assert d.stats()["udp"]["flows"] == 2 and len(events) == 3  # 4000's new query timed out
    d.tick(130.3)  # 4001 idle past 30 s
    assert d.stats()["udp"] == {"flows": 1, "flows_total": 2, "flows_over_limit": 0, "flows_expired": 1}
    d.tick(150.1)
    assert d.stats()["udp"]["flows"] == 0 and d.stats()["udp"]["flows_expired"] == 2
