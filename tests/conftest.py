"""Shared test fixtures: where Packetbeat's test data lives, and checking events against fields.yml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from packetshipper.fields import validate_event

# No deadlines: a deadline is a timing assertion, and CI machines are shared.
settings.register_profile("packetshipper", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("packetshipper")

PACKETBEAT_DATA = Path(__file__).parent / "pcaps" / "packetbeat"


@pytest.fixture
def packetbeat_data() -> Path:
    """tests/pcaps/packetbeat: Packetbeat's pcaps, golden events and sample outputs (see INDEX.md)."""
    return PACKETBEAT_DATA


@pytest.fixture
def assert_valid_event() -> Callable[[dict[str, Any]], None]:
    """Fails the test with every violation if an event does not match its type's fields.yml."""

    def check(event: dict[str, Any]) -> None:
        problems = validate_event(event)
        assert not problems, "event does not match its fields.yml:\n  " + "\n  ".join(problems)

    return check
