"""Without -t a file is replayed at its recorded pace: each packet is released when a (fake) wall clock
reaches its offset from the first packet. The clock is simulated, so the test asserts no real timing."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from packetshipper import capture
from packetshipper.capture import FileSource
from packetshipper.pcapgen import udp_frame, write_pcap


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_packets_are_released_at_their_recorded_offsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    offsets = [0.0, 0.5, 0.5, 2.0, 2.25]
    path = tmp_path / "paced.pcap"
    write_pcap(str(path), [(1_700_000_000.0 + t, udp_frame("10.0.0.1", "10.0.0.2", 5000, 53, b"q")) for t in offsets])
    clock = FakeClock()
    monkeypatch.setattr(capture.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(capture.time, "sleep", clock.sleep)
    released = []
    for _buf, meta in FileSource(str(path), topspeed=False).batches():
        sec, usec, _off, _cap = struct.unpack("=IIII", meta[:16])
        released.append((round(clock.now - 1000.0, 6), round(sec + usec * 1e-6 - 1_700_000_000.0, 6)))
    # Each packet leaves when the clock has advanced by its offset, never before.
    assert released == [(t, t) for t in offsets]
    assert all(s <= capture.POLL_INTERVAL + 1e-9 for s in clock.sleeps)  # short sleeps: stop stays responsive


def test_top_speed_never_sleeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fast.pcap"
    write_pcap(str(path), [(1_700_000_000.0 + t, udp_frame("10.0.0.1", "10.0.0.2", 5000, 53, b"q")) for t in (0, 5, 9)])
    clock = FakeClock()
    monkeypatch.setattr(capture.time, "sleep", clock.sleep)
    batches = list(FileSource(str(path), topspeed=True).batches())
    assert sum(len(meta) // 16 for _buf, meta in batches) == 3
    assert clock.sleeps == []
