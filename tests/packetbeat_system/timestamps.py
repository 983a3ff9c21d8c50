"""Packetbeat writes @timestamp, event.start and event.end with microseconds; packetshipper, for now, with
milliseconds (issue 12, item 4, in shipper/event.py: not part of this re-run). Tests compare the instant to
the millisecond here and keep the exact string in a strict xfail, so the day timestamps carry
microseconds the xfail fails and the alternative assertion can go."""

from __future__ import annotations

from datetime import datetime

import pytest

MILLISECONDS_ONLY = pytest.mark.xfail(
    strict=True, reason="timestamps are written with milliseconds, Packetbeat writes microseconds "
                        "(issue 12 item 4, shipper/event.py iso_timestamp)")


def instant(text: str) -> float:
    assert text.endswith("Z"), f"{text!r} lacks the time zone marker Z"
    return datetime.strptime(text[:-1] + "+0000", "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def assert_same_millisecond(ours: str, packetbeats: str) -> None:
    """`ours` is Packetbeat's microsecond value rounded to the millisecond."""
    assert abs(instant(ours) - instant(packetbeats)) <= 0.0005 + 1e-9, f"{ours} is not {packetbeats} to the ms"
