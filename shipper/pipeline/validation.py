"""The optional runtime switch that checks each event against the fields/ schemas before it is queued."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["EventValidator", "load_schema_validator"]

log = logging.getLogger(__name__)

Validate = Callable[[dict[str, Any]], list[str]]

_MAX_TRACKED = 100  # distinct violation messages counted by name; the rest go under "other"
_MAX_MESSAGE = 200
_LOGGED = 10


class EventValidator:
    """Counts events with violations (and each violation); with `drop`, refuses them."""

    def __init__(self, validate: Validate, drop: bool = False) -> None:
        self._validate = validate
        self.drop = drop
        self.checked = 0
        self.invalid = 0
        self.violations = 0
        self.dropped = 0
        self.errors = 0
        self.by_message: dict[str, int] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        """True if the event may be queued."""
        self.checked += 1
        try:
            violations = self._validate(event)
        except Exception:  # a validator bug must not stop capture; count it and let the event through
            self.errors += 1
            if self.errors <= _LOGGED:
                log.exception("event validation failed")
            return True
        if not violations:
            return True
        self.invalid += 1
        self.violations += len(violations)
        for message in violations:
            key = message[:_MAX_MESSAGE]
            if key not in self.by_message and len(self.by_message) >= _MAX_TRACKED:
                key = "other"
            self.by_message[key] = self.by_message.get(key, 0) + 1
        if self.invalid <= _LOGGED:
            log.warning("event of type %r violates its schema: %s", event.get("type"), "; ".join(violations))
        if self.drop:
            self.dropped += 1
            return False
        return True

    def stats(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "invalid": self.invalid,
            "violations": self.violations,
            "dropped": self.dropped,
            "errors": self.errors,
            "by_message": dict(self.by_message),
        }


def load_schema_validator() -> Validate:
    """`packetshipper.fields.validate_event`, imported only when the switch is on."""
    from packetshipper.fields import validate_event

    return validate_event
