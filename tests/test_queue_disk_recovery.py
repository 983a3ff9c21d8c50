"""queue.disk: events survive a restart until acknowledged; torn and corrupt records are counted and
skipped, never fatal; segments are deleted once wholly acknowledged; the size limit holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from packetshipper.outputs.encoded import EventCodec, pack_event
from packetshipper.pipeline.queue_disk import DiskQueue, DiskQueueError
from packetshipper.pipeline.spool_records import HEADER, encode_record

KB = 1024


def _open(path: Path, max_size: int = 1024 * KB, segment_size: int = 64 * KB) -> DiskQueue:
    return DiskQueue(str(path), max_size=max_size, segment_size=segment_size, fsync="never")


def _event(i: int) -> dict[str, object]:
    return {"id": i, "type": "dns", "dns": {"question": {"name": f"host{i}.example.com"}}}


def _frame(event: dict[str, object]) -> bytes:
    """The record the queue writes for `event`."""
    return encode_record(pack_event(EventCodec().encode(event)))


def _drain(queue: DiskQueue, ack: bool = True) -> list[int]:
    queue.close()
    ids: list[int] = []
    while (batch := queue.get(50)) is not None:
        ids.extend(e.decoded()["id"] for e in batch.events)
        if ack:
            queue.ack(batch)
    return ids


def _segments(path: Path) -> list[Path]:
    return sorted(path.glob("*.seg"))


def test_unacknowledged_events_are_delivered_again_after_a_restart(tmp_path: Path):
    queue = _open(tmp_path)
    for i in range(100):
        assert queue.put(_event(i), block=False)
    first = queue.get(30)
    assert first is not None
    queue.ack(first)  # ids 0..29 acknowledged
    second = queue.get(30)  # ids 30..59 read but never acknowledged
    assert second is not None and [e.decoded()["id"] for e in second.events] == list(range(30, 60))
    queue.release()

    reopened = _open(tmp_path)
    assert reopened.stats()["recovered"] == 70
    assert reopened.pending() == 70
    assert _drain(reopened) == list(range(30, 100))
    reopened.release()

    again = _open(tmp_path)
    assert again.stats()["recovered"] == 0
    assert _drain(again) == []
    again.release()


def test_events_come_back_exactly_as_they_went_in(tmp_path: Path):
    event = {"@timestamp": "2015-07-11T21:47:24.428Z", "type": "http", "status": "OK",
             "http": {"response": {"status_code": 200}}, "related": {"ip": ["10.0.0.1", "::1"]},
             "event": {"duration": 1_234_567, "outcome": "success"}, "tags": [], "rtt": 0.5, "flag": None}
    queue = _open(tmp_path)
    queue.put(event, block=False)
    queue.release()
    reopened = _open(tmp_path)
    reopened.close()
    batch = reopened.get(10)
    assert batch is not None and [e.decoded() for e in batch.events] == [event]
    reopened.release()


def test_a_torn_tail_record_is_counted_and_skipped(tmp_path: Path):
    queue = _open(tmp_path)
    for i in range(10):
        queue.put(_event(i), block=False)
    queue.release()
    segment = _segments(tmp_path)[-1]
    data = segment.read_bytes()
    last = _frame(_event(9))
    assert data.endswith(last)
    segment.write_bytes(data[: len(data) - len(last) // 2])  # a crash in the middle of the last write

    reopened = _open(tmp_path)
    stats = reopened.stats()
    assert stats["recovered"] == 9
    assert stats["corrupt_regions"] == 1
    assert stats["skipped_bytes"] == len(last) - len(last) // 2
    assert reopened.put(_event(10), block=False)  # and the queue goes on working
    assert _drain(reopened) == [*range(9), 10]
    reopened.release()


def test_a_damaged_record_in_the_middle_is_skipped_and_the_rest_delivered(tmp_path: Path):
    queue = _open(tmp_path)
    for i in range(10):
        queue.put(_event(i), block=False)
    queue.release()
    segment = _segments(tmp_path)[-1]
    data = bytearray(segment.read_bytes())
    sizes = [len(_frame(_event(i))) for i in range(10)]
    fourth = sum(sizes[:4])
    data[fourth + HEADER.size + 3] ^= 0xFF  # flip bits inside record 4's payload
    segment.write_bytes(bytes(data))

    reopened = _open(tmp_path)
    assert reopened.stats()["corrupt_regions"] == 1
    assert reopened.stats()["skipped_bytes"] == sizes[4]
    assert _drain(reopened) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    reopened.release()


def test_garbage_before_and_between_records_is_skipped(tmp_path: Path):
    records = [_frame(_event(i)) for i in range(3)]
    (tmp_path / "0000000001.seg").write_bytes(b"PS\x01garbage" + records[0] + b"\x00" * 7 + records[1] + records[2])
    queue = _open(tmp_path)
    assert queue.stats()["corrupt_regions"] == 2
    assert queue.stats()["skipped_bytes"] == len(b"PS\x01garbage") + 7
    assert _drain(queue) == [0, 1, 2]
    queue.release()


def test_acknowledged_segments_are_deleted(tmp_path: Path):
    queue = _open(tmp_path, segment_size=4 * KB)
    for i in range(200):
        queue.put(_event(i), block=False)
    assert len(_segments(tmp_path)) > 3
    assert _drain(queue) == list(range(200))
    assert len(_segments(tmp_path)) == 1  # only the segment still being written
    assert queue.stats()["bytes"] == 0 and queue.pending() == 0
    queue.release()


def test_the_size_limit_drops_the_newest_when_not_blocking(tmp_path: Path):
    frame = len(_frame(_event(0)))
    queue = _open(tmp_path, max_size=frame * 5 + frame // 2)
    results = [queue.put(_event(0), block=False) for _ in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert queue.stats()["dropped"]["full"] == 3
    batch = queue.get(2)
    assert batch is not None
    queue.ack(batch)
    assert queue.put(_event(0), block=False)  # acknowledged bytes free their room
    queue.release()


def test_an_event_larger_than_a_segment_is_refused_and_counted(tmp_path: Path):
    queue = _open(tmp_path, segment_size=4 * KB)
    assert queue.put({"blob": "x" * 5000}, block=False) is False
    assert queue.stats()["dropped"]["too_large"] == 1
    queue.release()


def test_an_event_json_cannot_encode_is_refused_and_counted(tmp_path: Path):
    queue = _open(tmp_path)
    assert queue.put({"value": object()}, block=False) is False
    assert queue.stats()["dropped"]["encode_error"] == 1
    queue.release()


def test_a_corrupt_ack_state_resends_everything_rather_than_losing_it(tmp_path: Path):
    queue = _open(tmp_path)
    for i in range(5):
        queue.put(_event(i), block=False)
    batch = queue.get(3)
    assert batch is not None
    queue.ack(batch)
    queue.release()
    (tmp_path / "ack").write_bytes(b"\x00" * 5)
    reopened = _open(tmp_path)
    assert reopened.stats()["ack_state_invalid"] == 1
    assert _drain(reopened) == [0, 1, 2, 3, 4]
    reopened.release()


def test_a_second_process_cannot_open_a_queue_in_use(tmp_path: Path):
    queue = _open(tmp_path)
    with pytest.raises(DiskQueueError, match="in use"):
        _open(tmp_path)
    queue.release()


def test_queue_files_are_private(tmp_path: Path):
    queue = _open(tmp_path / "q")
    queue.put(_event(0), block=False)
    batch = queue.get(1)
    assert batch is not None
    queue.ack(batch)
    assert os.stat(tmp_path / "q").st_mode & 0o777 == 0o700
    for name in ("ack", "lock", _segments(tmp_path / "q")[-1].name):
        assert os.stat(tmp_path / "q" / name).st_mode & 0o777 == 0o600
    queue.release()


def test_a_clean_shutdown_with_everything_acknowledged_leaves_no_segments(tmp_path: Path):
    queue = _open(tmp_path)
    for i in range(3):
        queue.put(_event(i), block=False)
    assert _drain(queue) == [0, 1, 2]
    queue.release()
    assert _segments(tmp_path) == []
    reopened = _open(tmp_path)
    assert reopened.put(_event(3), block=False)
    reopened.release()  # not acknowledged: it stays
    again = _open(tmp_path)
    assert again.stats()["recovered"] == 1 and _drain(again) == [3]
    again.release()
