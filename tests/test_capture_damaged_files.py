"""Damaged captures: every intact packet before a truncated or corrupt record is processed and its events
shipped, then one line names the file, the packet number and the damage, and the exit status is 1 (as
tcpdump does). Also gzip-compressed captures, unsupported link types and an interface that disappears
mid-capture.

The oracle is tcpdump: `tcpdump -r damaged -w intact` writes the intact prefix (and exits 1); the events
of the damaged file must be exactly those of that prefix, and the damaged packet's number is one more
than the records tcpdump kept.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pcapy
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packetshipper import pcapgen
from packetshipper.capture import CaptureError, DamagedCapture
from packetshipper.config import validate_config
from packetshipper.fields import validate_event
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher

SAMPLE = Path(__file__).parent.parent / "shipper" / "data" / "sample.pcap"
PROTOCOLS = {"packetshipper": {"protocols": [{"type": "http"}, {"type": "dns"}, {"type": "icmp"}]}}
PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")  # sec, usec, caplen, len

needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
needs_editcap = pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap (wireshark) is not installed")
pytestmark = needs_tcpdump


# --- building and reading files (independently of the code under test) ------------------------------

def pcap_records(data: bytes) -> list[tuple[int, int]]:
    """(offset, total size) of each record of a little-endian pcap file."""
    out, off = [], PCAP_HEADER.size
    while off + RECORD.size <= len(data):
        caplen = RECORD.unpack_from(data, off)[2]
        if off + RECORD.size + caplen > len(data):
            break
        out.append((off, RECORD.size + caplen))
        off += RECORD.size + caplen
    return out


def pcapng_packet_blocks(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each Enhanced Packet Block of a little-endian pcapng file."""
    out, off = [], 0
    while off + 8 <= len(data):
        block_type, size = struct.unpack_from("<II", data, off)
        if block_type == 6:
            out.append((off, size))
        off += size
    return out


def tail_heavy_pcap(path: Path) -> None:
    """sample.pcap with its first DNS exchange moved to the end: the last three packets are an ICMP echo
    reply, a DNS query and its answer, so a cut in any of them changes the events."""
    reader = pcapy.open_offline(str(SAMPLE))
    packets = []
    while True:
        header, data = reader.next()
        if header is None:
            break
        sec, usec = header.getts()
        packets.append((sec + usec / 1e6, data))
    last = packets[-1][0]
    moved = [(last + 0.010, packets[0][1]), (last + 0.0102, packets[1][1])]
    pcapgen.write_pcap(str(path), packets[2:] + moved)


def tcpdump_intact(damaged: Path, intact: Path) -> tuple[int, int]:
    """(tcpdump's exit status, records it wrote) for `tcpdump -r damaged -w intact`."""
    done = subprocess.run(["tcpdump", "-r", str(damaged), "-w", str(intact)], capture_output=True, timeout=60)
    return done.returncode, len(pcap_records(intact.read_bytes()))


# --- running the shipper -------------------------------------------------------------------------

def ship(path: Path, bpf: str | None = None) -> tuple[list[dict[str, Any]], CaptureError | None]:
    """Events published for `path` (read at top speed, flows + HTTP + DNS + ICMP) and the capture error
    that ended the run, if any. Every event is checked against its fields.yml (each distinct one once:
    a sweep publishes the same events hundreds of times)."""
    raw = json.loads(json.dumps(PROTOCOLS))
    raw["packetshipper"]["interfaces"] = {"file": str(path), "topspeed": True, "bpf_filter": bpf}
    publisher = CollectingPublisher(check_schema=False)
    shipper = Shipper(validate_config(raw), publisher=publisher)
    error = None
    try:
        shipper.run()
    except CaptureError as exc:
        assert publisher.closed
        error = exc
    for event in publisher.events:
        text = json.dumps(event, sort_keys=True)
        if text not in _VALID:
            problems = validate_event(event)
            assert not problems, problems
            _VALID.add(text)
    return publisher.events, error


_VALID: set[str] = set()


def comparable(events: list[dict[str, Any]]) -> list[str]:
    """Events as sorted canonical JSON, without what a publisher adds per event (ids)."""
    return sorted(json.dumps({k: v for k, v in e.items() if k != "@metadata"}, sort_keys=True) for e in events)


class IntactRuns:
    """Events of intact files, by content (a sweep meets the same few prefixes again and again)."""

    def __init__(self) -> None:
        self._runs: dict[str, list[str]] = {}

    def events(self, path: Path, bpf: str | None = None) -> list[str]:
        key = hashlib.sha256(path.read_bytes()).hexdigest() + repr(bpf)
        if key not in self._runs:
            events, error = ship(path, bpf)
            assert error is None, error
            self._runs[key] = comparable(events)
        return self._runs[key]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def the_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit status 1 and exactly one error line (log lines aside), no traceback."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("packetshipper: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def file_output_events(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for name in sorted(os.listdir(directory))
            for line in (directory / name).read_text().splitlines() if line]


def run_to_file(capture: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("-I", str(capture), "-t", "-E", f"output.file.path={out}", "-E", "output.file.filename=events",
               *extra, cwd=out.parent)


@pytest.fixture(scope="module")
def intact_runs() -> IntactRuns:
    return IntactRuns()


@pytest.fixture(scope="module")
def tail_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tail") / "tail.pcap"
    tail_heavy_pcap(path)
    return path


# --- cut at every byte of the last three packets ---------------------------------------------------

def cut_sweep(whole: Path, records: list[tuple[int, int]], work: Path, intact_runs: IntactRuns) -> int:
    """Cuts `whole` at every byte offset inside its last three records; returns how many were damaged."""
    data = whole.read_bytes()
    first = records[-3][0]
    damaged = 0
    seen_prefixes = set()
    cut, intact = work / f"cut{whole.suffix}", work / "intact.pcap"
    for end in range(first, len(data)):
        cut.write_bytes(data[:end])
        status, kept = tcpdump_intact(cut, intact)
        events, error = ship(cut)
        expected = intact_runs.events(intact)
        assert comparable(events) == expected, f"cut at byte {end}"
        seen_prefixes.add(kept)
        if status == 0:  # a cut between records leaves a shorter, intact file
            assert error is None, f"cut at byte {end}: {error}"
            continue
        damaged += 1
        assert isinstance(error, DamagedCapture), f"cut at byte {end}: {error!r}"
        assert error.packet == kept + 1, f"cut at byte {end}: {error}"
        assert str(cut) in str(error) and "\n" not in str(error)
    assert seen_prefixes == {len(records) - 3, len(records) - 2, len(records) - 1}
    return damaged


@pytest.mark.slow
def test_a_pcap_cut_at_every_byte_of_its_last_three_packets_ships_the_intact_prefix(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns) -> None:
    records = pcap_records(tail_pcap.read_bytes())
    damaged = cut_sweep(tail_pcap, records, tmp_path, intact_runs)
    assert damaged == sum(size for _off, size in records[-3:]) - 3  # every offset but the record starts
    # The three prefixes really differ: a lost DNS answer, DNS query, ICMP reply each change the events.
    prefixes = [tmp_path / f"p{n}.pcap" for n in range(3)]
    data = tail_pcap.read_bytes()
    for n, path in enumerate(prefixes):
        path.write_bytes(data[: records[-3 + n][0]])
    assert len({tuple(intact_runs.events(path)) for path in prefixes}) == 3


@pytest.mark.slow
@needs_editcap
def test_a_pcapng_cut_at_every_byte_of_its_last_three_packets_ships_the_intact_prefix(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns) -> None:
    whole = tmp_path / "tail.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(tail_pcap), str(whole)], check=True, capture_output=True)
    blocks = pcapng_packet_blocks(whole.read_bytes())
    assert len(blocks) == len(pcap_records(tail_pcap.read_bytes()))
    assert cut_sweep(whole, blocks, tmp_path, intact_runs) > 0


def test_a_cut_pcap_through_the_command_line_delivers_the_intact_events_then_one_line(
        tail_pcap: Path, tmp_path: Path) -> None:
    data = tail_pcap.read_bytes()
    last_off, last_size = pcap_records(data)[-1]
    cut, intact = tmp_path / "cut.pcap", tmp_path / "intact.pcap"
    cut.write_bytes(data[: last_off + last_size // 2])  # the DNS answer, cut in its payload
    status, kept = tcpdump_intact(cut, intact)
    assert status == 1
    (tmp_path / "cut-out").mkdir()
    (tmp_path / "intact-out").mkdir()
    result = run_to_file(cut, tmp_path / "cut-out")
    line = the_error_line(result)
    assert line.startswith("packetshipper: capture error: ")
    assert f"{cut}: packet {kept + 1} is damaged: truncated dump file" in line
    assert run_to_file(intact, tmp_path / "intact-out").returncode == 0
    shipped = file_output_events(tmp_path / "cut-out")
    assert comparable(shipped) == comparable(file_output_events(tmp_path / "intact-out"))
    # The DNS query whose answer was cut is still reported (unanswered), and the flows are flushed.
    assert any(e["type"] == "dns" and e["status"] == "Error" for e in shipped)
    assert any(e["type"] == "flow" and e["flow"]["final"] for e in shipped)


@pytest.mark.parametrize("how", ["paced replay", "from a pipe"])
def test_a_cut_pcap_replayed_at_its_pace_or_read_from_a_pipe_ships_the_intact_prefix(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns, how: str) -> None:
    data = tail_pcap.read_bytes()
    off, size = pcap_records(data)[-2]
    cut, intact = tmp_path / "cut.pcap", tmp_path / "intact.pcap"
    cut.write_bytes(data[: off + size - 3])  # the DNS query, its last bytes missing
    assert tcpdump_intact(cut, intact) == (1, len(pcap_records(data)) - 2)
    out = tmp_path / "out"
    output = ["-E", f"output.file.path={out}", "-E", "output.file.filename=events"]
    if how == "paced replay":  # the capture spans 0.3 s
        result = cli("-I", str(cut), *output, cwd=tmp_path)
        name = str(cut)
    else:
        result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", "/dev/stdin", "-t", *output],
                                input=cut.read_bytes(), capture_output=True, timeout=120, cwd=tmp_path)
        result = subprocess.CompletedProcess(result.args, result.returncode, "", result.stderr.decode())
        name = "/dev/stdin"
    line = the_error_line(result)
    assert f"{name}: packet {len(pcap_records(data)) - 1} is damaged: truncated dump file" in line
    assert comparable(file_output_events(out)) == intact_runs.events(intact)


def test_the_damaged_record_is_counted_in_the_capture_metrics(tail_pcap: Path, tmp_path: Path) -> None:
    data = tail_pcap.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-5])
    counts = []
    for path in (tail_pcap, cut):
        raw = {"packetshipper": {"interfaces": {"file": str(path), "topspeed": True}}}
        shipper = Shipper(validate_config(raw), publisher=CollectingPublisher())
        with pytest.raises(DamagedCapture) if path == cut else contextlib.nullcontext():
            shipper.run()
        counts.append(shipper.metrics.snapshot()["capture"]["damaged_records"])
    assert counts == [0, 1]


# --- large files: the failed batch is re-read after the batches already delivered -------------------

@pytest.fixture(scope="module")
def big_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.pcap"
    pcapgen.write_pcap(str(path), pcapgen.generate_http_dns(packets=9_000, duration=2.0, concurrent=300))
    return path


@pytest.mark.parametrize("record", [1, 4096, 4097, pytest.param(8193, marks=pytest.mark.slow),
                                    pytest.param(-1, marks=pytest.mark.slow)], ids=lambda n: "last" if n < 0 else str(n))
def test_a_cut_anywhere_in_a_large_file_ships_every_packet_before_it(
        big_pcap: Path, tmp_path: Path, intact_runs: IntactRuns, record: int) -> None:
    data = big_pcap.read_bytes()
    records = pcap_records(data)
    assert len(records) > 8193
    record = len(records) if record < 0 else record
    off, size = records[record - 1]
    cut, intact = tmp_path / "cut.pcap", tmp_path / "intact.pcap"
    cut.write_bytes(data[: off + size - 1])
    status, kept = tcpdump_intact(cut, intact)
    assert (status, kept) == (1, record - 1)
    events, error = ship(cut)
    assert isinstance(error, DamagedCapture) and error.packet == record
    assert comparable(events) == intact_runs.events(intact)


def test_with_a_bpf_filter_the_damaged_packet_is_still_numbered_in_the_whole_file(
        big_pcap: Path, tmp_path: Path, intact_runs: IntactRuns) -> None:
    data = big_pcap.read_bytes()
    off, _size = pcap_records(data)[5000 - 1]
    cut, intact = tmp_path / "cut.pcap", tmp_path / "intact.pcap"
    cut.write_bytes(data[: off + 10])
    assert tcpdump_intact(cut, intact) == (1, 4999)
    events, error = ship(cut, bpf="udp")
    assert isinstance(error, DamagedCapture) and error.packet == 5000
    expected = intact_runs.events(intact, bpf="udp")
    assert comparable(events) == expected
    assert any('"type": "dns"' in e for e in expected)


# --- corrupt records and headers -----------------------------------------------------------------

def corrupt_record(data: bytes, record: int, how: str) -> bytes:
    off = pcap_records(data)[record - 1][0]
    out = bytearray(data)
    if how == "caplen above the snaplen":
        struct.pack_into("<I", out, off + 8, 70_000)
    elif how == "absurd caplen":
        struct.pack_into("<I", out, off + 8, 0xFFFF_FFFF)
    elif how == "garbage record header":
        out[off : off + RECORD.size] = b"\xa5" * RECORD.size
    return bytes(out)


@pytest.mark.parametrize("how", ["caplen above the snaplen", "absurd caplen", "garbage record header"])
def test_a_corrupt_record_header_ends_the_run_after_the_packets_before_it(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns, how: str) -> None:
    damaged, intact = tmp_path / "damaged.pcap", tmp_path / "intact.pcap"
    damaged.write_bytes(corrupt_record(tail_pcap.read_bytes(), 41, how))
    assert tcpdump_intact(damaged, intact) == (1, 40)
    events, error = ship(damaged)
    assert isinstance(error, DamagedCapture) and error.packet == 41
    assert comparable(events) == intact_runs.events(intact)
    line = the_error_line(run_to_file(damaged, tmp_path / "out"))
    assert f"{damaged}: packet 41 is damaged: " in line


def record_offsets_as_libpcap_walks_them(data: bytes, count: int) -> int:
    """Byte offset of record `count + 1`, walking `count` record headers by their caplen."""
    off = PCAP_HEADER.size
    for _ in range(count):
        off += RECORD.size + RECORD.unpack_from(data, off)[2]
    return off


@settings(max_examples=60)
@given(record=st.integers(1, 83), field=st.integers(0, 3), value=st.integers(0, 0xFFFF_FFFF))
@example(record=1, field=2, value=282)  # a timestamp pcapy gives back negative: once a struct.error
def test_any_corrupt_record_header_gives_the_events_of_the_records_before_the_damage(
        tail_pcap: Path, intact_runs: IntactRuns, record: int, field: int, value: int) -> None:
    data = bytearray(tail_pcap.read_bytes())
    off = pcap_records(bytes(data))[record - 1][0]
    struct.pack_into("<I", data, off + 4 * field, value)
    with tempfile.TemporaryDirectory() as work:
        damaged = Path(work) / "damaged.pcap"
        damaged.write_bytes(bytes(data))
        events, error = ship(damaged)  # anything but a CaptureError escapes and fails the test
        if not isinstance(error, DamagedCapture):
            assert error is None
            return
        prefix = Path(work) / "prefix.pcap"
        prefix.write_bytes(bytes(data[: record_offsets_as_libpcap_walks_them(bytes(data), error.packet - 1)]))
        assert comparable(events) == intact_runs.events(prefix)


@needs_editcap
def test_a_pcapng_block_with_a_garbage_length_ends_the_run_after_the_packets_before_it(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns) -> None:
    whole = tmp_path / "whole.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(tail_pcap), str(whole)], check=True, capture_output=True)
    data = bytearray(whole.read_bytes())
    off = pcapng_packet_blocks(bytes(data))[29][0]
    data[off + 4 : off + 8] = b"\xa5" * 4
    damaged, intact = tmp_path / "damaged.pcapng", tmp_path / "intact.pcap"
    damaged.write_bytes(bytes(data))
    assert tcpdump_intact(damaged, intact) == (1, 29)
    events, error = ship(damaged)
    assert isinstance(error, DamagedCapture) and error.packet == 30
    assert "not a multiple of 4" in error.reason and "zu" not in error.reason
    assert comparable(events) == intact_runs.events(intact)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "truncated dump file; tried to read 4 file header bytes, only got 0"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00", "truncated dump file; tried to read 24 file header bytes"),
        (b"\x00" * 24 + b"\xa5" * 100, "unknown file format"),
        (b"GARBAGE!" * 40, "unknown file format"),
    ],
    ids=["empty", "10 bytes", "garbage global header", "text"],
)
def test_a_file_that_is_no_capture_is_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    line = the_error_line(run_to_file(path, tmp_path / "out"))
    assert line.startswith(f"packetshipper: capture error: cannot read {path}: ")
    assert expected in line


# --- gzip ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_gzip_compressed_capture_is_read_like_the_uncompressed_one(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns, kind: str) -> None:
    plain = tail_pcap
    if kind == "pcapng":
        if shutil.which("editcap") is None:
            pytest.skip("editcap (wireshark) is not installed")
        plain = tmp_path / "tail.pcapng"
        subprocess.run(["editcap", "-F", "pcapng", str(tail_pcap), str(plain)], check=True, capture_output=True)
    packed = tmp_path / f"tail.{kind}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    events, error = ship(packed)
    assert error is None
    assert comparable(events) == intact_runs.events(tail_pcap)
    (tmp_path / "out").mkdir()
    assert run_to_file(packed, tmp_path / "out").returncode == 0
    assert comparable(file_output_events(tmp_path / "out")) == intact_runs.events(tail_pcap)


def test_a_truncated_gzip_capture_ships_what_decompresses_then_one_line(
        tail_pcap: Path, tmp_path: Path, intact_runs: IntactRuns) -> None:
    packed = gzip.compress(tail_pcap.read_bytes())
    for end in (len(packed) // 2, len(packed) - 9):  # mid-stream; just before the gzip trailer
        cut = tmp_path / "cut.pcap.gz"
        cut.write_bytes(packed[:end])
        intact = tmp_path / "intact.pcap"
        subprocess.run(f"gzip -dc < {cut} | tcpdump -r - -w {intact}", shell=True, capture_output=True, timeout=60)
        kept = len(pcap_records(intact.read_bytes()))
        events, error = ship(cut)
        assert isinstance(error, DamagedCapture) and error.packet == kept + 1, error
        assert "gzip: compressed file ended before the end-of-stream marker was reached" in error.reason
        assert comparable(events) == intact_runs.events(intact)


def test_a_gzip_stream_cut_at_a_record_boundary_is_still_damage(tail_pcap: Path, tmp_path: Path) -> None:
    data = tail_pcap.read_bytes()
    boundary = pcap_records(data)[-1][0]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    stream = compressor.compress(data[:boundary]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(stream)  # every record up to the boundary decompresses; the stream has no end
    events, error = ship(cut)
    assert isinstance(error, DamagedCapture), error
    assert error.packet == len(pcap_records(data)), error
    assert events


def test_a_gzip_file_that_does_not_decompress_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap.gz"
    path.write_bytes(b"\x1f\x8bGARBAGE, NOT DEFLATE" * 3)
    line = the_error_line(run_to_file(path, tmp_path / "out"))
    assert line.startswith(f"packetshipper: capture error: cannot read {path}: gzip: ")


@pytest.mark.parametrize(("tool", "name"), [("xz", "xz"), ("bzip2", "bzip2"), ("zstd", "zstd")])
def test_other_compressions_are_named_as_not_supported(tail_pcap: Path, tmp_path: Path, tool: str, name: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    packed = tmp_path / f"tail.pcap.{tool}"
    packed.write_bytes(subprocess.run([tool, "-c", str(tail_pcap)], capture_output=True, check=True).stdout)
    line = the_error_line(run_to_file(packed, tmp_path / "out"))
    assert line == (f"packetshipper: capture error: cannot read {packed}: {name}-compressed captures are not "
                    "supported (decompress it first; gzip is read as it is)")


def test_stopping_early_ends_the_decompressor(tail_pcap: Path, tmp_path: Path) -> None:
    from packetshipper.capture import FileSource

    packed = tmp_path / "big.pcap.gz"
    data = tail_pcap.read_bytes()
    packed.write_bytes(gzip.compress(data + data[PCAP_HEADER.size:] * 2000))  # far more than a pipe holds
    source = FileSource(str(packed))
    child = source._pass.child
    assert child is not None
    next(source.batches())
    source.close()
    assert child.returncode is not None


# --- link types ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("dlt", "named"), [(105, "link type 105 (IEEE802_11, 802.11)"), (4000, "link type 4000 (unknown)")])
def test_an_unsupported_link_type_is_one_line_naming_it(tail_pcap: Path, tmp_path: Path, dlt: int, named: str) -> None:
    data = bytearray(tail_pcap.read_bytes())
    struct.pack_into("<I", data, 20, dlt)
    path = tmp_path / "other.pcap"
    path.write_bytes(bytes(data))
    line = the_error_line(run_to_file(path, tmp_path / "out"))
    assert line.startswith(f"packetshipper: capture error: cannot decode file {path}: {named} is not supported")
    assert "EN10MB (1)" in line and "LINUX_SLL (113)" in line


# --- live: the interface disappears ---------------------------------------------------------------

def _netns_supported() -> str | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2"
    name = f"psprobe{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode:
        return f"cannot create a network namespace: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


@pytest.fixture
def veth_in_netns() -> Iterator[tuple[str, str, str]]:
    """A network namespace of the test's own with a veth pair up in it: (namespace, capture side, peer)."""
    reason = _netns_supported()
    if reason:
        pytest.skip(reason)
    ns = f"psdamaged{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        run = ["ip", "netns", "exec", ns, "ip", "link"]
        subprocess.run([*run, "add", "cap0", "type", "veth", "peer", "name", "peer0"], check=True)
        subprocess.run([*run, "set", "cap0", "up"], check=True)
        subprocess.run([*run, "set", "peer0", "up"], check=True)
        yield ns, "cap0", "peer0"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


_SEND_FRAMES = """
import socket, sys
from packetshipper import pcapgen
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[1], 0))
for i in range(5):
    sock.send(pcapgen.udp_frame("10.9.8.1", "10.9.8.2", 40000, 9999, b"hello %d" % i))
"""


@pytest.mark.slow
@pytest.mark.parametrize("action", [["del"], ["set", "down"]], ids=["deleted", "set down"])
def test_the_interface_going_away_mid_capture_is_one_line_flows_flushed_exit_1(
        veth_in_netns: tuple[str, str, str], tmp_path: Path, action: list[str]) -> None:
    ns, device, peer = veth_in_netns
    out = tmp_path / "out"
    in_ns = ["ip", "netns", "exec", ns]
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([*in_ns, sys.executable, "-m", "packetshipper.cli", "-i", device, "-e",
                                 "-E", f"output.file.path={out}", "-E", "output.file.filename=events"],
                                stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path, text=True)
        try:
            deadline = time.monotonic() + 30
            while "reading interface" not in _read(stderr) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert proc.poll() is None, _read(stderr)
            time.sleep(0.5)  # the capture handle is active once the log line is out; let it settle
            subprocess.run([*in_ns, sys.executable, "-c", _SEND_FRAMES, peer], check=True)
            time.sleep(0.5)
            subprocess.run([*in_ns, "ip", "link", action[0], device, *action[1:]], check=True)
            status = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        text = _read(stderr)
    result = subprocess.CompletedProcess(proc.args, status, "", text)
    line = the_error_line(result)
    assert line.startswith(f"packetshipper: capture error: capture on {device} stopped: ")
    assert "went down" in line or "disappeared" in line or "No such device" in line
    assert "capture error" in text.strip().splitlines()[-1]  # nothing after the error line
    flows = [e for e in file_output_events(out) if e["type"] == "flow"]
    udp = [e for e in flows if e["flow"]["final"] and 40000 in (e["source"].get("port"), e["destination"].get("port"))]
    assert len(udp) == 1 and udp[0]["network"]["packets"] == 5, flows


def _read(handle: Any) -> str:
    handle.seek(0)
    return str(handle.read())
