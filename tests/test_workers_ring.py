"""The file reader's shared ring of batches (workers/ring.py): what a worker reads back is what was
written, in another process too; its messages cannot pass for a batch's records; a batch too big for a
slot and a ring of one slot still give exactly the events of one process."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pcapy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.capture import BATCH
from packetshipper.config import default_protocols
from packetshipper.pcapgen import generate_http_dns, write_pcap
from packetshipper.testing import run_pcap
from packetshipper.workers import channel, ring
from packetshipper.workers.ring import BatchRing, RingView

PCAPS = Path(__file__).parent / "pcaps"


def _read_in_another_process(view: RingView, places: list[tuple[int, int, int]], free: Any, out: Any) -> None:
    for place in places:
        out.send(view.read(*place))
        free.release()


def test_a_worker_started_by_the_fork_server_reads_back_each_slot_as_written() -> None:
    context = multiprocessing.get_context("forkserver")
    batches = BatchRing(slots=2, slot_bytes=1 << 16)
    free = context.Semaphore(2)
    receiving, sending = context.Pipe(duplex=False)
    written = [(b"m" * 16 * (i + 1), bytes([i]) * (1000 * i + 1)) for i in range(2)]
    places = []
    for meta, buf in written:
        assert free.acquire(timeout=5)
        places.append(batches.write(meta, buf))
    assert [slot for slot, _m, _b in places] == [0, 1]
    worker = context.Process(target=_read_in_another_process, args=(batches.view(), places, free, sending))
    worker.start()
    sending.close()
    try:
        assert [receiving.recv() for _ in written] == written
        worker.join(10)
        assert worker.exitcode == 0
        # both slots given back: the next write takes slot 0 again without waiting
        assert free.acquire(timeout=5) and free.acquire(timeout=5)
        assert batches.write(b"r" * 16, b"again")[0] == 0
    finally:
        batches.close()


def test_a_place_outside_the_ring_is_refused_not_read() -> None:
    batches = BatchRing(slots=1, slot_bytes=64)
    view = RingView(os.dup(batches.fd), 1, 64)  # a worker closes its copy once mapped
    try:
        assert view.read(*batches.write(b"x" * 16, b"y" * 48)) == (b"x" * 16, b"y" * 48)
        for place in [(1, 16, 0), (0, 16, 49), (0, -1, 0)]:
            with pytest.raises(ValueError):
                view.read(*place)
    finally:
        view.close()
        batches.close()
    assert not BatchRing(slots=1, slot_bytes=64).fits(b"x" * 16, b"y" * 49)


@given(st.integers(0, 2**20), st.integers(0, 2**20), st.integers(0, 2**30))
def test_a_slot_message_reads_back_and_is_never_records_nor_the_end(slot: int, meta_length: int,
                                                                    buf_length: int) -> None:
    message = channel.slot_message(slot, meta_length, buf_length)
    assert channel.read_slot(message) == (slot, meta_length, buf_length)
    assert len(message) % 16  # records are 16 bytes each
    assert channel.read_end(message) == (False, None)


@given(st.binary(min_size=16, max_size=16 * 8).filter(lambda b: len(b) % 16 == 0))
def test_records_and_the_end_are_never_read_as_a_slot(records: bytes) -> None:
    assert channel.read_slot(records) is None
    assert channel.read_slot(channel.end_of_file(1.5)) is None
    assert channel.read_slot(channel.end_of_file(None)) is None


def _counted(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(event, sort_keys=True) for event in events)


@pytest.fixture(scope="module")
def conversations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """A capture of several batches, and each batch's size (records and buffer) as libpcap reads them."""
    path = tmp_path_factory.mktemp("ring") / "http-dns.pcap"
    write_pcap(str(path), generate_http_dns(6000, duration=40.0, concurrent=300))
    reader, sizes = pcapy.open_offline(str(path)), []
    while True:
        buf, meta = reader.next_batch(BATCH)
        if not meta:
            return path, sizes
        sizes.append(len(buf) + len(meta))


@pytest.mark.parametrize("ring_shape", ["some-batches-too-big-for-a-slot", "a-ring-of-one-slot"])
def test_two_workers_give_the_events_of_one_whatever_the_ring(monkeypatch: pytest.MonkeyPatch, ring_shape: str,
                                                               conversations: tuple[Path, list[int]]) -> None:
    pcap, sizes = conversations
    assert len(sizes) >= 2 and min(sizes) < max(sizes)
    slots = 8
    if ring_shape == "a-ring-of-one-slot":
        slots = 1
    else:  # the full batches go down the pipes, the last one through the ring
        monkeypatch.setattr(ring, "SLOT_BYTES", (min(sizes) + max(sizes)) // 2)
    config: dict[str, Any] = {"packetshipper": {"protocols": default_protocols(), "flows": {"period": "5s"}}}
    one = run_pcap(str(pcap), config, check_schema=False).events
    config["packetshipper"].update(workers=2, workers_queue=slots)
    two = run_pcap(str(pcap), config, check_schema=False)
    assert len(one) > 1000 and _counted(two.events) == _counted(one)
    assert two.stats["workers"]["restarts"] == 0


def test_without_shared_memory_the_pipes_carry_every_batch(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture,
                                                           conversations: tuple[Path, list[int]]) -> None:
    from packetshipper.workers import supervisor

    def refused(*_args: Any) -> BatchRing:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(supervisor, "BatchRing", refused)
    pcap, _sizes = conversations
    config: dict[str, Any] = {"packetshipper": {"protocols": default_protocols(), "flows": {"period": "5s"}}}
    one = run_pcap(str(pcap), config, check_schema=False).events
    config["packetshipper"]["workers"] = 2
    with caplog.at_level("WARNING", logger="packetshipper.workers"):
        two = run_pcap(str(pcap), config, check_schema=False)
    assert _counted(two.events) == _counted(one)
    assert any("no shared memory for the file's batches" in r.getMessage() for r in caplog.records)
