"""Every capture of the corpus (tests/pcaps/) gives the same events and counters on the compiled hot path
and on the pure-Python one, with flows and every built-in module enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper.registry import available_modules
from packetshipper.testing import run_pcap
from test_hotpath_equivalence import COMPILED, hot_path

PCAPS = Path(__file__).parent / "pcaps"
CAPTURES = sorted(str(p.relative_to(PCAPS)) for p in PCAPS.rglob("*.pcap"))
CONFIG = {"packetshipper": {"protocols": [{"type": name} for name in sorted(available_modules())]}}

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")


def run(relative: str, compiled: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with hot_path(compiled):
        result = run_pcap(str(PCAPS / relative), CONFIG, check_schema=False)
    stats = {section: result.stats[section] for section in ("capture", "flows", "protocols") if section in result.stats}
    return result.events, stats


def test_the_corpus_is_every_capture_under_tests_pcaps() -> None:
    assert len(CAPTURES) > 100  # Packetbeat's corpus, crafted captures, thrift's


@pytest.mark.parametrize("relative", CAPTURES)
def test_both_paths_give_the_same_events_and_counters(relative: str) -> None:
    compiled_events, compiled_stats = run(relative, True)
    pure_events, pure_stats = run(relative, False)
    assert compiled_events == pure_events
    assert compiled_stats == pure_stats
    assert compiled_stats["capture"]["received"] > 0
