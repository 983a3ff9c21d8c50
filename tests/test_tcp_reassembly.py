"""One direction of TCP reassembly: order, overlaps, wrap-around, limits and gaps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.tcp_stream import ByteBudget, Reassembler, StreamEvent, TcpCounters, seq_diff

MB = 1 << 20


def make(limit: int = MB, budget: int = 64 * MB) -> tuple[Reassembler, list[tuple[float, StreamEvent, int]]]:
    events: list[tuple[float, StreamEvent, int]] = []
    stream = Reassembler(limit, ByteBudget(budget), TcpCounters(), lambda ts, k, n: events.append((ts, k, n)))
    return stream, events


def joined(items: list[bytes | int]) -> bytes:
    assert all(isinstance(i, bytes) for i in items), items
    return b"".join(items)  # type: ignore[arg-type]


def test_seq_diff_is_signed_modulo_2_32() -> None:
    assert seq_diff(5, 3) == 2
    assert seq_diff(3, 5) == -2
    assert seq_diff(2, 0xFFFFFFFE) == 4  # across the wrap
    assert seq_diff(0xFFFFFFFE, 2) == -4


def test_in_order_segments_pass_straight_through() -> None:
    stream, events = make()
    stream.syn(100)
    assert stream.segment(101, b"hello ", 1.0) == [b"hello "]
    assert stream.segment(107, b"world", 1.1) == [b"world"]
    assert stream.next_seq == 112
    assert events == []


def test_a_segment_ahead_waits_for_the_hole_to_fill() -> None:
    stream, events = make()
    stream.syn(100)
    assert stream.segment(106, b"world", 1.0) == []
    assert stream.pending_bytes == 5
    assert stream.segment(101, b"hello", 1.1) == [b"hello", b"world"]
    assert stream.pending_bytes == 0 and stream.budget.used == 0
    assert [k for _, k, _ in events] == [StreamEvent.OUT_OF_ORDER]
    assert stream.counters.out_of_order == 1


def test_full_retransmission_is_dropped_and_counted() -> None:
    stream, events = make()
    stream.syn(0)
    stream.segment(1, b"abcdef", 1.0)
    assert stream.segment(1, b"abcdef", 1.1) == []
    assert stream.counters.retransmissions == 1
    assert events == []


def test_partial_overlap_is_trimmed_and_counted() -> None:
    stream, events = make()
    stream.syn(0)
    stream.segment(1, b"abcdef", 1.0)
    assert stream.segment(4, b"defGHI", 1.1) == [b"GHI"]
    assert stream.counters.overlaps == 1
    assert [k for _, k, _ in events] == [StreamEvent.OVERLAP]


def test_held_segments_overlapping_each_other_deliver_each_byte_once() -> None:
    stream, _ = make()
    stream.syn(0)
    assert stream.segment(5, b"efgh", 1.0) == []
    assert stream.segment(3, b"cdefg", 1.1) == []
    assert joined(stream.segment(1, b"ab", 1.2)) == b"abcdefgh"


def test_sequence_numbers_wrap_around() -> None:
    stream, _ = make()
    stream.syn(0xFFFFFFFA)  # first data byte at 0xFFFFFFFB
    assert stream.segment(0xFFFFFFFB, b"12345", 1.0) == [b"12345"]
    assert stream.next_seq == 0
    assert stream.segment(3, b"xyz", 1.1) == []  # 3 bytes missing at 0..2
    assert stream.segment(0, b"abc", 1.2) == [b"abc", b"xyz"]
    assert stream.next_seq == 6


def test_over_the_per_stream_limit_the_hole_becomes_a_gap() -> None:
    stream, events = make(limit=10)
    stream.syn(0)
    assert stream.segment(1, b"aa", 1.0) == [b"aa"]
    assert stream.segment(6, b"0123456789", 1.1) == []  # 3 bytes missing (3..5), 10 held
    out = stream.segment(16, b"Z", 1.2)  # would be 11 held: give the hole up
    assert out == [3, b"0123456789", b"Z"]
    assert stream.counters.gaps == 1 and stream.counters.bytes_lost == 3
    assert stream.counters.gaps_over_limit == 1
    assert (1.2, StreamEvent.GAP, 3) in events
    assert stream.pending_bytes == 0


def test_the_global_budget_limits_all_streams_together() -> None:
    budget = ByteBudget(8)
    counters = TcpCounters()
    a = Reassembler(100, budget, counters)
    b = Reassembler(100, budget, counters)
    a.syn(0)
    b.syn(0)
    assert a.segment(11, b"x" * 6, 1.0) == []
    assert budget.used == 6
    assert b.segment(21, b"y" * 4, 1.0) == [20, b"y" * 4]  # would make 10 > 8: delivered past a gap
    assert budget.used == 6
    assert counters.gaps_over_limit == 1


def test_a_segment_larger_than_the_limit_is_delivered_after_a_gap() -> None:
    stream, _ = make(limit=4)
    stream.syn(0)
    assert stream.segment(11, b"abcdefgh", 1.0) == [10, b"abcdefgh"]
    assert stream.next_seq == 19


def test_give_up_hole_reports_the_bytes_lost_and_delivers_what_follows() -> None:
    stream, _ = make()
    stream.syn(0)
    stream.segment(1, b"ab", 1.0)
    stream.segment(8, b"hi", 1.1)
    stream.segment(12, b"lm", 1.2)
    assert stream.hole_since == 1.1
    assert stream.give_up_hole(5.0) == [5, b"hi"]
    assert stream.hole_since == 5.0  # the next hole (10..11) starts waiting now
    assert stream.give_up_hole(9.0) == [2, b"lm"]
    assert stream.hole_since is None
    assert stream.counters.gaps_timeout == 2 and stream.counters.bytes_lost == 7


def test_fin_after_a_hole_finishes_only_when_the_hole_is_given_up() -> None:
    stream, _ = make()
    stream.syn(0)
    stream.segment(1, b"ab", 1.0)
    stream.fin(10, 1.1)  # FIN after byte 9; bytes 3..9 never came
    assert not stream.finished
    assert stream.hole_since == 1.1
    assert stream.give_up(2.0) == [7]
    assert stream.finished


def test_fin_in_order_finishes_at_once() -> None:
    stream, _ = make()
    stream.syn(0)
    stream.segment(1, b"abc", 1.0)
    stream.fin(4, 1.1)
    assert stream.finished and stream.hole_since is None


def test_a_stream_picked_up_midway_starts_at_the_first_segment_seen() -> None:
    stream, _ = make()
    assert stream.segment(123456, b"middle", 1.0) == [b"middle"]
    assert stream.next_seq == 123462


def test_a_segment_half_the_sequence_space_away_is_not_buffered() -> None:
    stream, _ = make()
    stream.syn(0)
    assert stream.segment(1 + (1 << 30) + 5, b"far", 1.0) == []
    assert stream.counters.out_of_window == 1 and stream.pending_bytes == 0


def _cut(data: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [(a, data[a:b]) for a, b in zip(points, points[1:], strict=False) if b > a]


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
    order=st.randoms(use_true_random=False),
    isn=st.integers(min_value=0, max_value=0xFFFFFFFF),
    duplicates=st.lists(st.integers(min_value=0, max_value=50), max_size=5),
)
def test_any_order_with_retransmissions_within_the_limit_gives_the_same_bytes(
    data: bytes, cuts: list[int], order, isn: int, duplicates: list[int]
) -> None:
    segments = _cut(data, cuts)
    segments += [segments[d % len(segments)] for d in duplicates]
    order.shuffle(segments)
    stream, events = make()
    stream.syn(isn)
    out: list[bytes | int] = []
    for offset, chunk in segments:
        out += stream.segment((isn + 1 + offset) & 0xFFFFFFFF, chunk, 1.0)
    assert joined(out) == data
    assert stream.pending_bytes == 0
    assert all(kind is not StreamEvent.GAP for _, kind, _ in events)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=15),
    order=st.randoms(use_true_random=False),
    limit=st.integers(min_value=1, max_value=64),
    lost=st.integers(min_value=0, max_value=15),
)
def test_with_losses_and_tight_limits_every_byte_is_delivered_or_counted_lost(
    data: bytes, cuts: list[int], order, limit: int, lost: int
) -> None:
    segments = _cut(data, cuts)
    dropped = segments.pop(lost % len(segments)) if len(segments) > 1 else None
    order.shuffle(segments)
    stream, _ = make(limit=limit)
    stream.syn(0)
    out: list[bytes | int] = []
    for offset, chunk in segments:
        out += stream.segment(1 + offset, chunk, 1.0)
    stream.fin(1 + len(data), 2.0)
    out += stream.give_up(3.0)
    delivered = sum(len(i) for i in out if isinstance(i, bytes))
    lost_bytes = sum(i for i in out if isinstance(i, int))
    assert delivered + lost_bytes == len(data)
    assert stream.finished and stream.budget.used == 0
    if dropped is None:
        assert joined(out) == data
    # Whatever was delivered sits at its true offset in the stream.
    position = 0
    for item in out:
        if isinstance(item, int):
            position += item
        else:
            assert data[position : position + len(item)] == item
            position += len(item)
