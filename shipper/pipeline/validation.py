"""The optional runtime switch that checks events against the fields/ schemas before they are queued.

Off (the default), nothing of it runs or is imported. On, each distinct event shape (its nested keys
and the JSON type of every value) is checked once: once an event of a shape passed, later events of
that shape are not checked again (`ShapeCache`), so the value checks (IP addresses, dates, ranges,
allowed values) are made on the first event of each shape only. Events of a shape that failed are
checked every time, so no event is blamed for another's values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["EventValidator", "ShapeCache", "load_schema_validator", "event_shape"]

log = logging.getLogger(__name__)

Validate = Callable[[dict[str, Any]], list[str]]

_MAX_TRACKED = 100  # distinct violation messages counted by name; the rest go under "other"
_MAX_MESSAGE = 200
_LOGGED = 10


def event_shape(value: Any) -> Any:
    """A hashable summary of `value`'s structure: keys in order, the type of each leaf, and the
    distinct shapes of a list's items (not their number)."""
    kind = type(value)
    if kind is dict:
        return tuple([(key, event_shape(item)) for key, item in value.items()])
    if kind is list:
        return ("[", *dict.fromkeys([event_shape(item) for item in value]))
    return kind


class ShapeCache:
    """Wraps a validate function: a shape that passed once is not checked again. At most
    `max_shapes` are remembered; past that, events of new shapes are checked each time (counted)."""

    def __init__(self, validate: Validate, max_shapes: int) -> None:
        self._validate = validate
        self.max_shapes = max_shapes
        self._passed: set[Any] = set()
        self.skipped = 0  # events not checked: their shape had passed
        self.over_limit = 0  # passing shapes not remembered: the cache was full

    def __call__(self, event: dict[str, Any]) -> list[str]:
        shape = event_shape(event)
        if shape in self._passed:
            self.skipped += 1
            return []
        violations = self._validate(event)
        if not violations:
            if len(self._passed) < self.max_shapes:
                self._passed.add(shape)
            else:
                self.over_limit += 1
        return violations

    def stats(self) -> dict[str, Any]:
        return {"shapes": len(self._passed), "max_shapes": self.max_shapes, "skipped": self.skipped,
                "over_limit": self.over_limit}


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
        shapes = self._validate.stats() if isinstance(self._validate, ShapeCache) else None
        return {
            **({"shape_cache": shapes} if shapes is not None else {}),
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
