"""Adding up the metrics snapshots of several worker processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["add_up"]


def add_up(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One snapshot: numbers summed key by key (nested mappings too); any other value is the first one seen."""
    total: dict[str, Any] = {}
    for snapshot in snapshots:
        _add_into(total, snapshot)
    return total


def _add_into(total: dict[str, Any], snapshot: Mapping[str, Any]) -> None:
    for key, value in snapshot.items():
        have = total.get(key)
        if isinstance(value, Mapping):
            if not isinstance(have, dict):
                have = total[key] = {}
            _add_into(have, value)
        elif _is_number(value) and (have is None or _is_number(have)):
            total[key] = value if have is None else have + value
        elif key not in total:
            total[key] = value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
