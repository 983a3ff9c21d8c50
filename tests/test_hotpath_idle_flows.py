"""The compiled sweep (`idle_flows`) picks exactly the flows FlowTable._expire's reference picks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.flows import Flow
from test_hotpath_equivalence import COMPILED, hot_path

pytestmark = pytest.mark.skipif(COMPILED is None, reason="needs the compiled hot path")


@settings(max_examples=200, deadline=None)
@given(lasts=st.lists(st.floats(0, 2e9, allow_nan=False), max_size=40), now=st.floats(0, 2e9),
       timeout=st.floats(0, 100), at_edge=st.booleans())
def test_the_compiled_sweep_picks_what_the_reference_picks(lasts: list[float], now: float, timeout: float,
                                                           at_edge: bool) -> None:
    if at_edge and lasts:
        lasts[0] = now - timeout  # exactly the timeout idle: not ended yet
    flows = {}
    with hot_path(True):
        for i, last in enumerate(lasts):
            flow = Flow(((), 6, -1), bytes([i % 256]) * 12, bytes([i % 256]) * 12, 4, 0.0, None, None, -1, -1)
            flow.last = last
            flows[id(flow)] = flow
    plain = SimpleNamespace(last=now - 2 * timeout - 1)  # not compiled counters: read as an attribute
    flows[id(plain)] = plain
    expected = [flow for flow in flows.values() if now - flow.last > timeout]
    assert COMPILED.idle_flows(flows, now, timeout) == expected


def test_the_compiled_mark_ended_does_what_the_reference_does() -> None:
    from packetshipper.flows import mark_ended

    def made(n: int) -> list:
        with hot_path(True):
            flows = [Flow(((), 6, -1), bytes([i]) * 12, bytes([i]) * 12, 4, 0.0, None, None, -1, -1) for i in range(n)]
        for flow in flows:
            flow.event_cache, flow.event_json = ("parts",), ("json",)
        return [*flows, SimpleNamespace(ended=False, event_cache=1, event_json=2)]

    def state(flows: list) -> list:
        return [(flow.ended, flow.event_cache, flow.event_json) for flow in flows]

    compiled, reference = made(5), made(5)
    COMPILED.mark_ended(compiled)
    mark_ended(reference)
    assert state(compiled) == state(reference) == [(True, None, None)] * 6
