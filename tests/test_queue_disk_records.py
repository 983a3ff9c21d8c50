"""The disk queue's record reader: nothing escapes arbitrary bytes, every intact record is found
however the segment is damaged around it, and the way reads are split does not change the result."""

from __future__ import annotations

import io
import struct
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.pipeline.spool_records import HEADER, MAGIC, SegmentReader, encode_record

MAX_RECORD = 64 * 1024


def _read_all(data: bytes, limit: int = 1000) -> tuple[list[bytes], int, int]:
    reader = SegmentReader(io.BytesIO(data), 0, MAX_RECORD)
    payloads: list[bytes] = []
    regions = skipped = 0
    while reader.offset < len(data):
        result = reader.read(len(data), sealed=True, limit=limit)
        payloads += [bytes(p) for p in result.payloads]
        regions += result.corrupt_regions
        skipped += result.skipped_bytes
    return payloads, regions, skipped


def test_the_header_layout_is_the_documented_one():
    record = encode_record(b"\x81\xa1a\x01", version=1)  # the previous format: msgpack {"a": 1}
    crc = zlib.crc32(b"\x81\xa1a\x01", zlib.crc32(struct.pack("<I", 4)))
    assert record == b"PS\x01\x00" + struct.pack("<II", 4, crc) + b"\x81\xa1a\x01"
    assert encode_record(b"\x81\xa1a\x01") == b"PS\x02\x00" + struct.pack("<II", 4, crc) + b"\x81\xa1a\x01"
    assert HEADER.size == 12


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_and_are_consumed_to_the_end(data: bytes):
    payloads, regions, skipped = _read_all(data)
    assert skipped + sum(len(p) + HEADER.size for p in payloads) == len(data)
    assert (skipped == 0) == (regions == 0)


_garbage = st.binary(max_size=40).filter(lambda b: MAGIC not in b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_garbage, st.binary(max_size=300)), max_size=12), _garbage)
def test_every_intact_record_is_found_between_garbage(pieces: list[tuple[bytes, bytes]], tail: bytes):
    data = b"".join(junk + encode_record(payload) for junk, payload in pieces) + tail
    payloads, regions, skipped = _read_all(data)
    assert payloads == [payload for _, payload in pieces]
    assert skipped == sum(len(junk) for junk, _ in pieces) + len(tail)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=20), st.data())
def test_a_growing_segment_read_in_any_steps_gives_the_same_records(payloads: list[bytes], data: st.DataObject):
    records = [encode_record(p) for p in payloads]
    blob = b"".join(records)
    ends = sorted(set(data.draw(st.lists(st.integers(0, len(records)), max_size=10))) | {len(records)})
    reader = SegmentReader(io.BytesIO(blob), 0, MAX_RECORD)
    seen: list[bytes] = []
    for count in ends:  # the writer has finished `count` records so far
        end = sum(len(r) for r in records[:count])
        limit = data.draw(st.integers(1, 5))
        while reader.offset < end:
            result = reader.read(end, sealed=False, limit=limit)
            assert result.corrupt_regions == 0
            seen += [bytes(p) for p in result.payloads]
    assert seen == payloads


def test_an_unfinished_record_in_a_growing_segment_means_wait_not_damage():
    record = encode_record(b"x" * 100)
    reader = SegmentReader(io.BytesIO(record), 0, MAX_RECORD)
    result = reader.read(50, sealed=False, limit=10)
    assert result.payloads == [] and result.corrupt_regions == 0 and reader.offset == 0
    result = reader.read(len(record), sealed=False, limit=10)
    assert [bytes(p) for p in result.payloads] == [b"x" * 100]


def test_records_larger_than_a_read_chunk_are_found_after_garbage():
    big = bytes(range(256)) * 6000  # 1.5 MB, more than one read chunk
    data = b"junk" + encode_record(big) + encode_record(b"small")
    reader = SegmentReader(io.BytesIO(data), 0, 2 * 1024 * 1024)
    result = reader.read(len(data), sealed=True, limit=10)
    assert [bytes(p) for p in result.payloads] == [big, b"small"]
    assert result.corrupt_regions == 1 and result.skipped_bytes == 4


def test_a_length_over_the_record_limit_is_damage():
    data = encode_record(b"y" * 100)
    reader = SegmentReader(io.BytesIO(data), 0, 50)
    result = reader.read(len(data), sealed=True, limit=10)
    assert result.payloads == [] and result.skipped_bytes == len(data)
