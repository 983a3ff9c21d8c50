"""A flow the compiled fast path makes (`_hotpath._new_flow`, no __init__) is field for field the flow
`Flow(...)` makes, and each field of Flow is one of the compiled base's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import hotpath
from packetshipper.flows import FLOW_FIELDS, Flow

compiled = pytest.mark.skipif(not (hotpath.enabled and hotpath.compiled), reason="needs the compiled hot path")

table_ids = st.tuples(st.lists(st.integers(0, 4095), max_size=2).map(tuple), st.sampled_from([6, 17]),
                      st.just(-1))
macs = st.one_of(st.none(), st.binary(min_size=6, max_size=6))
timestamps = st.one_of(st.floats(0, 4e9, allow_nan=False), st.integers(0, 2**32).map(lambda us: us / 1e6),
                       st.sampled_from([0.0, 1_700_000_000.0, 1_700_000_000.123456]))


@compiled
def test_every_field_of_a_flow_is_a_field_of_the_compiled_base() -> None:
    assert Flow.__slots__ == ()
    assert all(hasattr(hotpath.compiled.FlowCounters, name) for name in FLOW_FIELDS)


@compiled
@settings(max_examples=300, deadline=None)
@given(table_id=table_ids, v6=st.booleans(), ts=timestamps, src_mac=macs, dst_mac=macs, data=st.data())
def test_a_new_flow_of_the_fast_path_is_the_flow_init_makes(table_id: tuple, v6: bool, ts: float,
                                                             src_mac: bytes | None, dst_mac: bytes | None,
                                                             data: st.DataObject) -> None:
    size = 36 if v6 else 12
    key = data.draw(st.binary(min_size=size, max_size=size))
    reverse = data.draw(st.binary(min_size=size, max_size=size))
    ip_version = 6 if v6 else 4
    made = hotpath.compiled.new_flow(table_id, key, reverse, ip_version, ts, src_mac, dst_mac)
    reference = Flow(table_id, key, reverse, ip_version, ts, src_mac, dst_mac, -1, -1)
    assert type(made) is Flow
    for name in FLOW_FIELDS:
        mine, theirs = getattr(made, name), getattr(reference, name)
        assert (mine, type(mine)) == (theirs, type(theirs)), name
    assert made.community_id == reference.community_id and made.endpoints() == reference.endpoints()
