"""The compiled reader of classic pcap files (`FileSource._direct`, `_hotpath.pcap_records`) hands out exactly
what libpcap hands out: the same packets with the same timestamps, and on a damaged file the same packets
before the same one-line error. The oracle is libpcap itself (the same `FileSource` with the compiled path
off), on files built here byte by byte: any snapshot length in the header, records longer than it (which
libpcap truncates or refuses), records cut short at any byte, more records than one batch holds.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packetshipper import capture, hotpath
from packetshipper.capture import META, CaptureError, FileSource

pytestmark = pytest.mark.skipif(hotpath.compiled is None, reason="the compiled hot path is not built")

FILE_HEADER = struct.Struct("<IHHiIII")  # magic, major, minor, thiszone, sigfigs, snaplen, linktype
RECORD = struct.Struct("<IIII")  # ts_sec, ts_usec, incl_len, orig_len


def pcap_bytes(snaplen: int, records: list[tuple[int, int, bytes]], *, magic: int = 0xA1B2C3D4,
               version: tuple[int, int] = (2, 4)) -> bytes:
    out = [FILE_HEADER.pack(magic, *version, 0, 0, snaplen, 1)]
    for sec, usec, data in records:
        out.append(RECORD.pack(sec, usec, len(data), len(data)) + data)
    return b"".join(out)


def read_all(path: Path, direct: bool) -> tuple[list[tuple[int, int, bytes]], list[int], str | None]:
    """(packets, batch sizes, the capture error's text) of one top-speed read of `path`."""
    saved = hotpath.enabled
    hotpath.enabled = direct
    packets: list[tuple[int, int, bytes]] = []
    sizes: list[int] = []
    error = None
    try:
        source = FileSource(str(path), topspeed=True)
        assert (source._direct_max_caplen() is not None) == direct
        try:
            for buf, meta in source.batches():
                sizes.append(len(meta) // META.size)
                for sec, usec, off, caplen in META.iter_unpack(meta):
                    packets.append((sec, usec, bytes(buf[off:off + caplen])))
        except CaptureError as exc:
            error = str(exc)
        finally:
            source.close()
    finally:
        hotpath.enabled = saved
    return packets, sizes, error


records_strategy = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
              st.one_of(st.binary(max_size=120), st.binary(min_size=200, max_size=400))),
    max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snaplen=st.sampled_from([0, 1, 64, 100, 300, 65535, 262144, 262145, 2**32 - 1]), records=records_strategy,
       cut=st.one_of(st.none(), st.integers(0, 2**16)))
def test_the_compiled_reader_gives_what_libpcap_gives(tmp_path: Path, snaplen: int,
                                                     records: list[tuple[int, int, bytes]], cut: int | None) -> None:
    data = pcap_bytes(snaplen, records)
    if cut is not None:
        data = data[:FILE_HEADER.size + cut % (len(data) - FILE_HEADER.size + 1)]
    path = tmp_path / "random.pcap"
    path.write_bytes(data)
    direct = read_all(path, direct=True)
    reference = read_all(path, direct=False)
    assert direct[0] == reference[0]
    assert direct[2] == reference[2]


def test_many_records_come_in_batches_of_at_most_one_batch_each(tmp_path: Path) -> None:
    # Small records first (reads sized by the count), then large ones (by the bytes), then small again.
    records = [(i, i % 1_000_000, bytes([i & 255]) * (i % 7)) for i in range(10_000)]
    records += [(i, 0, bytes([i & 255]) * 1500) for i in range(3_000)]
    records += [(i, 1, b"x" * 60) for i in range(9_000)]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_bytes(65535, records))
    packets, sizes, error = read_all(path, direct=True)
    assert error is None
    assert packets == [(sec, usec, data) for sec, usec, data in records]
    assert max(sizes) == capture.BATCH
    assert packets == read_all(path, direct=False)[0]


def test_a_record_longer_than_the_chunk_is_read_whole(tmp_path: Path) -> None:
    records = [(1, 2, b"a" * 100), (3, 4, b"b" * 262144), (5, 6, b"c" * 10)]
    path = tmp_path / "big.pcap"
    path.write_bytes(pcap_bytes(0, records))
    assert read_all(path, direct=True) == read_all(path, direct=False)
    assert read_all(path, direct=True)[0] == records


@pytest.mark.parametrize("magic, version", [
    (0xA1B23C4D, (2, 4)),  # nanoseconds: libpcap scales them to microseconds
    (0xD4C3B2A1, (2, 4)),  # the other byte order (as this machine reads the magic)
    (0xA1B2C3D4, (2, 3)),  # an older version, whose lengths libpcap may swap
])
def test_files_libpcap_converts_are_left_to_libpcap(tmp_path: Path, magic: int, version: tuple[int, int]) -> None:
    path = tmp_path / "other.pcap"
    path.write_bytes(pcap_bytes(65535, [(1, 2, b"abc")], magic=magic, version=version))
    try:
        source = FileSource(str(path), topspeed=True)
    except CaptureError:
        return  # libpcap refuses it outright: nothing for the compiled reader either
    try:
        assert source._direct_max_caplen() is None
    finally:
        source.close()


def test_a_filter_is_left_to_libpcap(tmp_path: Path) -> None:
    path = tmp_path / "f.pcap"
    path.write_bytes(pcap_bytes(65535, [(1, 2, b"abc")]))
    source = FileSource(str(path), topspeed=True, bpf="tcp")
    try:
        assert source._direct_max_caplen() is None
    finally:
        source.close()


def test_pcap_records_stops_where_it_must() -> None:
    records = hotpath.compiled.pcap_records  # type: ignore[union-attr]
    one = RECORD.pack(7, 8, 3, 3) + b"abc"
    meta, end, need = records(one * 3, 0, 65535, 2)
    assert (META.unpack_from(meta, 16), end, need) == ((7, 8, len(one) + 16, 3), 2 * len(one), 0)
    assert records(one * 3, 2 * len(one), 65535, 5)[1:] == (3 * len(one), 0)
    assert records(one + one[:10], 0, 65535, 5)[1:] == (len(one), 16)
    assert records(one + one[:17], 0, 65535, 5)[1:] == (len(one), 19)
    assert records(one, 0, 2, 5) == (b"", 0, -1)
    with pytest.raises(ValueError):
        records(one, len(one) + 1, 65535, 5)


def test_read_chunk_is_rest_plus_what_the_file_gives(tmp_path: Path) -> None:
    read_chunk = hotpath.compiled.read_chunk  # type: ignore[union-attr]
    path = tmp_path / "bytes"
    path.write_bytes(bytes(range(256)) * 10)
    with open(path, "rb", buffering=0) as handle:
        assert read_chunk(handle.fileno(), b"xy", 5) == b"xy" + bytes(range(5))
        assert read_chunk(handle.fileno(), b"", 0) == b""
        assert read_chunk(handle.fileno(), b"z", 1 << 20) == b"z" + (bytes(range(256)) * 10)[5:]
        assert read_chunk(handle.fileno(), b"end", 10) == b"end"
    reader, writer = os.pipe()  # a descriptor that gives less than asked: read on to the size
    with os.fdopen(writer, "wb", buffering=0) as pipe:
        pipe.write(b"abc")
        pipe.write(b"defg")
    with os.fdopen(reader, "rb", buffering=0) as pipe_in:
        assert read_chunk(pipe_in.fileno(), b"", 100) == b"abcdefg"
    with pytest.raises(OSError):
        read_chunk(-1, b"", 10)
