"""Shared test fixtures: where Packetbeat's test data lives, and checking events against fields.yml."""

from __future__ import annotations

import os
import sys
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

# Tests that start `packetshipper` by name find the one installed beside the interpreter running them
# (a virtual environment's bin/ is not on PATH unless it was activated).
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# `pytest -m smoke`: a quick pass over every layer (CLI, capture live and from files, decoder, modules,
# pipeline and outputs, fields), the subset CI also runs under Debian's own Python.
SMOKE_FILES = frozenset({
    "test_cli_user_errors.py",
    "test_live_capture_loopback.py",
    "test_dns_pcaps.py",
    "test_http_pcaps.py",
    "test_flows_packetbeat_expectations.py",
    "test_pipeline_elasticsearch_delivery.py",
    "test_output_logstash_acks.py",
    "test_fields_packetbeat_events.py",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SMOKE_FILES:
            item.add_marker(pytest.mark.smoke)


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
