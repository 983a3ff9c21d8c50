"""The cyclic collector during a run: off between paced full collections, back on after the run."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from packetshipper.collector_pacing import CollectorPacing


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_a_cycle_lives_until_the_interval_passes_then_is_collected(collector_state: None) -> None:
    now = [100.0]
    pacing = CollectorPacing(interval=30.0, clock=lambda: now[0])
    pacing.start()
    assert not gc.isenabled()
    ref = _cycle()
    for _ in range(50):  # allocations would have triggered the automatic collector many times over
        [[] for _ in range(10_000)]
        pacing.poll()
    assert ref() is not None and pacing.collections == 0
    now[0] = 129.9
    pacing.poll()
    assert ref() is not None
    now[0] = 130.0
    pacing.poll()
    assert ref() is None and pacing.collections == 1
    ref = _cycle()
    now[0] = 159.0  # the next collection is due an interval after the last one
    pacing.poll()
    assert ref() is not None
    now[0] = 160.0
    pacing.poll()
    assert ref() is None and pacing.collections == 2


def test_stop_gives_back_the_automatic_collector(collector_state: None) -> None:
    pacing = CollectorPacing()
    pacing.start()
    frozen = gc.get_freeze_count()
    kept = [[] for _ in range(1000)]  # what the run leaves alive is frozen at its end
    pacing.stop()
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(kept)
    ref = _cycle()
    gc.collect()
    assert ref() is None


def test_a_collector_that_was_off_stays_off(collector_state: None) -> None:
    gc.disable()
    pacing = CollectorPacing()
    pacing.start()
    pacing.stop()
    assert not gc.isenabled()


def test_a_run_turns_the_collector_off_while_it_captures_and_back_on_after(
        collector_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper import runner
    from packetshipper.testing import run_pcap

    seen: list[bool] = []
    process_batch = runner.Engine.process_batch

    def spy(engine: runner.Engine, buf: bytes, meta: bytes) -> None:
        seen.append(gc.isenabled())
        process_batch(engine, buf, meta)

    monkeypatch.setattr(runner.Engine, "process_batch", spy)
    run = run_pcap("tests/pcaps/packetbeat/http_100_continue.pcap")
    assert run.events and seen and not any(seen)
    assert gc.isenabled()


def test_the_main_process_of_workers_turns_it_off_while_the_file_is_read_and_back_on_after(
        collector_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper.testing import run_pcap
    from packetshipper.workers.inbox import Inbox

    seen: list[bool] = []
    events = Inbox.events

    def spy(inbox: Inbox, message: bytes) -> int:  # the main process queueing a worker's batch
        seen.append(gc.isenabled())
        return events(inbox, message)

    monkeypatch.setattr(Inbox, "events", spy)
    run = run_pcap("tests/pcaps/packetbeat/http_minitwit.pcap", {"packetshipper": {"workers": 2}})
    assert run.events and seen and not any(seen)
    assert gc.isenabled()
