"""Helpers for tests and for looking at a pcap from Python: run a capture file, get the events back.

Every event is checked against the fields/ schemas; a violation raises `SchemaViolation`, so no test
can see an event that does not match what the index template declares.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .config import validate_config
from .metrics import Metrics
from .pipeline.api import Publisher
from .runner import build_shipper

__all__ = ["events_from_pcap", "run_pcap", "PcapRun", "CollectingPublisher", "SchemaViolation"]


class SchemaViolation(AssertionError):
    pass


class CollectingPublisher(Publisher):
    """Keeps events in memory, checking each against the schemas."""

    def __init__(self, check_schema: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.check_schema = check_schema
        self.closed = False

    def publish(self, event: dict[str, Any]) -> bool:
        if self.check_schema:
            from .fields import validate_event

            problems = validate_event(event)
            if problems:
                raise SchemaViolation(f"event of type {event.get('type')!r} breaks its schema: {problems}\n{event}")
        self.events.append(event)
        return True

    def close(self, timeout: float | None = None) -> None:
        self.closed = True

    def stats(self) -> dict[str, Any]:
        return {"events": len(self.events)}


@dataclass(frozen=True, slots=True)
class PcapRun:
    events: list[dict[str, Any]]
    stats: dict[str, Any]


def run_pcap(path: str, config: dict[str, Any] | None = None, *, check_schema: bool = True) -> PcapRun:
    """Read `path` at top speed with `config` (a packetshipper.yml-shaped dict); return events and stats.

    Without a config, flows are on and no protocol module is enabled.
    """
    raw = copy.deepcopy(config) if config else {}
    ps = raw.setdefault("packetshipper", {})
    interfaces = ps.setdefault("interfaces", {})
    interfaces["file"] = str(path)
    interfaces.setdefault("topspeed", True)
    validated = validate_config(raw)
    publisher = CollectingPublisher(check_schema)
    metrics = Metrics()
    shipper = build_shipper(validated, publisher=publisher, metrics=metrics)
    summary = shipper.run()
    return PcapRun(publisher.events, summary.stats)


def events_from_pcap(path: str, config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return run_pcap(path, config).events
