"""queue.mem: bounded by `events` (in-flight batches included), drop-newest or block when full,
and Beats' flush rules for handing out batches."""

from __future__ import annotations

import threading

import pytest
from packetshipper.pipeline.queue_mem import MemoryQueue


def _event(i: int) -> dict[str, int]:
    return {"id": i}


def test_full_queue_drops_the_newest_events_and_counts_each():
    queue = MemoryQueue(max_events=3)
    accepted = [queue.put(_event(i), block=False) for i in range(5)]
    assert accepted == [True, True, True, False, False]
    batch = queue.get(10)
    assert batch is not None
    assert [e["id"] for e in batch.events] == [0, 1, 2]
    stats = queue.stats()
    assert stats["dropped"]["full"] == 2
    assert stats["added"] == 3


def test_events_in_flight_hold_their_place_until_acked():
    queue = MemoryQueue(max_events=2)
    queue.put(_event(0), block=False)
    queue.put(_event(1), block=False)
    batch = queue.get(2)
    assert batch is not None and queue.stats()["in_flight"] == 2
    assert queue.put(_event(2), block=False) is False  # the unacked batch still fills the queue
    queue.ack(batch)
    assert queue.put(_event(3), block=False) is True
    assert queue.stats() == {
        "type": "mem", "events": 1, "in_flight": 0, "max_events": 2, "added": 3, "acked": 2, "blocked": 0,
        "unsent_at_stop": 0,
        "dropped": {"full": 1, "closed": 0, "too_large": 0, "encode_error": 0, "write_error": 0, "shutdown": 0},
    }


def test_blocking_put_waits_for_an_ack_and_loses_nothing():
    queue = MemoryQueue(max_events=1)
    queue.put(_event(0), block=True)
    batch = queue.get(1)
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(queue.put(_event(1), block=True)))
    producer.start()
    producer.join(0.2)
    assert producer.is_alive() and not result  # still waiting: nothing dropped
    assert batch is not None
    queue.ack(batch)
    producer.join(5)
    assert result == [True]
    second = queue.get(1)
    assert second is not None and second.events == [{"id": 1}]
    assert queue.stats()["blocked"] == 1 and queue.stats()["dropped"]["full"] == 0


def test_batch_waits_for_min_events_then_is_capped_by_max_events():
    queue = MemoryQueue(max_events=100, min_events=4, flush_timeout=3600)
    for i in range(3):
        queue.put(_event(i), block=False)
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(queue.get(2)))
    consumer.start()
    consumer.join(0.2)
    assert consumer.is_alive()  # 3 < min_events and the flush timeout is an hour away
    queue.put(_event(3), block=False)
    consumer.join(5)
    batch = got[0]
    assert [e["id"] for e in batch.events] == [0, 1]  # type: ignore[attr-defined]


def test_flush_timeout_hands_out_a_partial_batch():
    now = [0.0]
    queue = MemoryQueue(max_events=100, min_events=50, flush_timeout=1.0, clock=lambda: now[0])
    queue.put(_event(0), block=False)
    now[0] = 1.5  # the oldest event has waited longer than flush.timeout
    batch = queue.get(10)
    assert batch is not None and batch.events == [{"id": 0}]


def test_close_flushes_the_rest_then_ends_and_refuses_new_events():
    queue = MemoryQueue(max_events=10, min_events=10, flush_timeout=3600)
    queue.put(_event(0), block=False)
    queue.close()
    batch = queue.get(10)
    assert batch is not None and batch.events == [{"id": 0}]
    assert queue.get(10) is None
    assert queue.put(_event(1), block=True) is False
    assert queue.stats()["dropped"]["closed"] == 1


def test_close_releases_a_blocked_producer_with_a_counted_drop():
    queue = MemoryQueue(max_events=1)
    queue.put(_event(0), block=True)
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(queue.put(_event(1), block=True)))
    producer.start()
    producer.join(0.1)
    queue.close()
    producer.join(5)
    assert result == [False]
    assert queue.stats()["dropped"]["closed"] == 1


def test_stop_makes_get_return_none_at_once():
    queue = MemoryQueue(max_events=10)
    queue.put(_event(0), block=False)
    queue.stop()
    assert queue.get(10) is None


@pytest.mark.parametrize("bad", [0, -1])
def test_a_queue_must_hold_at_least_one_event(bad: int):
    with pytest.raises(ValueError):
        MemoryQueue(max_events=bad)


def test_put_many_queues_what_fits_and_drops_and_counts_the_rest_when_not_blocking():
    queue = MemoryQueue(max_events=4)
    queue.put(_event(0), block=False)
    assert queue.put_many([_event(i) for i in range(1, 6)], block=False) == 3
    batch = queue.get(10)
    assert batch is not None and [e["id"] for e in batch.events] == [0, 1, 2, 3]
    assert queue.stats()["added"] == 4 and queue.stats()["dropped"]["full"] == 2


def test_put_many_blocking_waits_for_room_and_keeps_the_order():
    queue = MemoryQueue(max_events=3)
    result: list[int] = []
    producer = threading.Thread(target=lambda: result.append(queue.put_many([_event(i) for i in range(10)], True)))
    producer.start()
    received: list[int] = []
    while len(received) < 10:
        batch = queue.get(2)
        assert batch is not None
        received.extend(e["id"] for e in batch.events)
        queue.ack(batch)
    producer.join(5)
    assert result == [10] and received == list(range(10))
    assert queue.stats()["dropped"]["full"] == 0 and queue.stats()["blocked"] >= 1


def test_put_many_wakes_a_consumer_waiting_for_min_events():
    queue = MemoryQueue(max_events=100, min_events=5, flush_timeout=60.0)
    got: list[int] = []
    consumer = threading.Thread(target=lambda: got.append(len(queue.get(100).events)))  # type: ignore[union-attr]
    consumer.start()
    queue.put_many([_event(i) for i in range(3)], block=False)
    consumer.join(0.2)
    assert consumer.is_alive()  # 3 of 5: the batch waits (flush.timeout is a minute away)
    queue.put_many([_event(i) for i in range(3, 7)], block=False)
    consumer.join(5)
    assert got == [7]


def test_put_many_after_close_drops_and_counts_each():
    queue = MemoryQueue(max_events=10)
    queue.close()
    assert queue.put_many([_event(i) for i in range(3)], block=True) == 0
    assert queue.stats()["dropped"]["closed"] == 3
