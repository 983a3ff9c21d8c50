"""What every processor is, and the chain that runs a list of them on each event.

A processor is built once from its validated config and then called per event: `run(event)` returns the
event (changed in place or a new dict) or None to drop it, and raises `ProcessorError` when it cannot do
its job. The chain then counts the error, adds it to `error.message`, and, for a processor with
`fail_on_error` (libbeat's default), undoes what the processor changed first. Nothing is dropped
because of an error: only `drop_event` drops.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..conditions import Condition
from ..settings import Setting, Spec
from .fields import FieldError, add_error

__all__ = ["Processor", "ProcessorError", "ProcessorStats", "Step", "Chain", "when_setting"]

log = logging.getLogger("packetshipper.processors")

Event = dict[str, Any]


class ProcessorError(Exception):
    """A processor could not do its job on this event (a missing field, a value of the wrong type...)."""


def _any(value: Any) -> Any:
    return value


def when_setting() -> Setting:
    """The `when` key every processor takes: a condition (compiled by the registry)."""
    return Setting(_any, None, "run only on events matching this condition")


class Processor(ABC):
    """One configured processor. Subclasses set `name` and `spec` (their keys; `when` is added)."""

    name: ClassVar[str]
    spec: ClassVar[Spec] = {}
    # On an error: undo this processor's changes to the event (libbeat's `fail_on_error`)...
    fail_on_error: bool = True
    # ... and say why in `error.message` (off where libbeat only logs, e.g. fail_on_error: false).
    report_errors: bool = True

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        self.config = config

    @abstractmethod
    def run(self, event: Event) -> Event | None:
        """The event, changed; None to drop it. Raise ProcessorError if it cannot be done."""


@dataclass(slots=True)
class ProcessorStats:
    """Counters under /stats `processors`: events dropped by drop_event, errors in all and per processor."""

    dropped: int = 0
    errors: int = 0
    bugs: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def error(self, name: str) -> None:
        self.errors += 1
        self.failed[name] = self.failed.get(name, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return {"dropped": self.dropped, "errors": self.errors, "bugs": self.bugs, "failed": dict(self.failed)}


@dataclass(frozen=True, slots=True)
class Step:
    """A processor with its condition and the dotted config key naming it (for messages)."""

    processor: Processor
    when: Condition | None
    path: str


class Chain:
    """Runs steps in order; `chain(event)` returns the event, or None once a step drops it."""

    __slots__ = ("steps", "stats", "_logged")

    def __init__(self, steps: list[Step], stats: ProcessorStats) -> None:
        self.steps = steps
        self.stats = stats
        self._logged: set[str] = set()

    def __call__(self, event: Event) -> Event | None:
        for step in self.steps:
            if step.when is not None and not step.when(event):
                continue
            processor = step.processor
            # Writes copy every nested dict they change, so a shallow copy keeps the whole event as it was.
            before = dict(event) if processor.fail_on_error else None
            try:
                out = processor.run(event)
            except (ProcessorError, FieldError) as exc:
                event = self._failed(step, event, before, str(exc))
                continue
            except Exception as exc:  # a bug in a processor: counted, logged once, the event goes on
                self.stats.bugs += 1
                if step.path not in self._logged:
                    self._logged.add(step.path)
                    log.error("processor %s failed unexpectedly (logged once): %r", step.path, exc)
                event = self._failed(step, event, before, f"unexpected error: {exc!r}")
                continue
            if out is None:
                self.stats.dropped += 1
                return None
            event = out
        return event

    def _failed(self, step: Step, event: Event, before: Event | None, why: str) -> Event:
        processor = step.processor
        self.stats.error(processor.name)
        if before is not None:
            event = before
        if processor.report_errors:
            add_error(event, f"{processor.name}: {why}")
        return event


Factory = Callable[[Mapping[str, Any], str], Processor]
