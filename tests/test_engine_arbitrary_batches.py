"""Engine.process_batch takes any bytes in any batch: nothing raises, every frame is accounted once, and
damaged frames give the same flows whether or not the fast path looks at them first."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.decode.decoder import (
    LINK_ETHERNET,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
)
from packetshipper.engine import Engine
from test_decode_framing import damaged, damaged_headers, link_frames
from test_engine_fast_path_equivalence import T0, ReferenceEngine, assert_same, batches_of, run

LINKTYPES = [LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL, LINK_LOOP, LINK_RAW]


def frames_for(linktype: int) -> st.SearchStrategy[list[bytes]]:
    valid = link_frames(linktype)
    one = st.one_of(st.binary(max_size=120), damaged(valid), damaged_headers(linktype), valid)
    return st.lists(one, min_size=1, max_size=30)


def ledger(stats: dict[str, int]) -> int:
    return (stats["fast_path"] + stats["decoded"] + stats["non_ip"] + stats["malformed_total"]
            + stats["fragments_pending"])


@pytest.mark.parametrize("linktype", LINKTYPES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_batch_is_processed_and_every_frame_accounted_once(linktype: int, data: st.DataObject) -> None:
    frames = data.draw(frames_for(linktype))
    sizes = data.draw(st.lists(st.integers(1, 8), max_size=4))
    packets = [(T0 + i * 0.25, frame) for i, frame in enumerate(frames)]
    for engine_class in (Engine, ReferenceEngine):
        _reports, _packets, engine = run(engine_class, linktype, batches_of(packets, sizes))
        stats = engine.stats()
        assert stats["received"] == len(frames)
        assert stats["bytes"] == sum(len(f) for f in frames)
        assert ledger(stats) == len(frames)


@pytest.mark.parametrize("linktype", [LINK_ETHERNET, LINK_LINUX_SLL])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_frames_give_the_same_flows_on_both_paths(linktype: int, data: st.DataObject) -> None:
    frames = data.draw(frames_for(linktype))
    packets = [(T0 + i * 0.25, frame) for i, frame in enumerate(frames)]
    assert_same(linktype, packets)


def test_an_empty_batch_changes_nothing() -> None:
    _reports, _packets, engine = run(Engine, LINK_ETHERNET, [(b"", b"")])
    assert engine.stats()["received"] == 0 and engine.last_ts is None
