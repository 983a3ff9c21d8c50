"""On every capture of Packetbeat's corpus, the fast path and the reference decoder give the same flows
and hand the same packets to the modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from packetshipper.capture import FileSource
from packetshipper.engine import Engine
from test_engine_fast_path_equivalence import ReferenceEngine, run

CORPUS = Path(__file__).parent / "pcaps" / "packetbeat"
CAPTURES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.pcap"))


@pytest.mark.parametrize("relative", CAPTURES)
def test_fast_path_and_reference_decoder_agree_on_the_capture(relative: str) -> None:
    source = FileSource(str(CORPUS / relative))
    batches = list(source.batches())
    source.close()
    fast_reports, fast_packets, fast = run(Engine, source.linktype, batches)
    ref_reports, ref_packets, ref = run(ReferenceEngine, source.linktype, batches)
    assert fast_reports == ref_reports
    assert fast_packets == ref_packets
    assert ref.fast_path == 0
    assert fast.stats()["received"] == ref.stats()["received"] > 0
