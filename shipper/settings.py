"""Declarative config keys: each component declares its settings as data, and one validator checks them.

A spec is a dict mapping a key to a `Setting` or to a nested spec. `validate(spec, raw, path)` returns a
new dict with every default filled in, or raises `ConfigError` naming the dotted path and the reason.
Unknown keys are errors, as are values of the wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConfigError",
    "Setting",
    "Spec",
    "validate",
    "duration",
    "size",
    "one_of",
    "at_least",
    "port_list",
    "string_list",
    "any_mapping",
]


class ConfigError(Exception):
    """A config value is missing, unknown or invalid; `path` is the dotted key."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


Converter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Setting:
    """One config key: how to convert and check its value, its default, and what it is for."""

    convert: Converter
    default: Any = None
    doc: str = ""
    required: bool = False


Spec = Mapping[str, "Setting | Spec"]


def any_mapping(doc: str = "") -> Setting:
    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a mapping, got {_kind(value)}")
        return dict(value)

    return Setting(convert, {}, doc)


def validate(spec: Spec, raw: Any, path: str = "") -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"expected a mapping, got {_kind(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(path, f"keys must be strings, got {key!r}")
    raw = _expand_dotted(raw, path)
    out: dict[str, Any] = {}
    for key, _value in raw.items():
        if key not in spec:
            known = ", ".join(sorted(spec))
            raise ConfigError(_join(path, key), f"unknown setting (known here: {known})")
    for key, entry in spec.items():
        sub = _join(path, key)
        if isinstance(entry, Setting):
            if key in raw and raw[key] is not None:
                try:
                    out[key] = entry.convert(raw[key])
                except ConfigError:
                    raise
                except (TypeError, ValueError) as exc:
                    raise ConfigError(sub, str(exc)) from None
            elif entry.required:
                raise ConfigError(sub, "required setting is missing")
            else:
                out[key] = entry.default
        else:
            out[key] = validate(entry, raw.get(key), sub)
    return out


def _expand_dotted(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Beats accepts `a.b: 1` as well as `a: {b: 1}`; fold the dotted form into the nested one."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        head, dot, rest = key.partition(".")
        if not dot:
            if key in out and isinstance(out[key], dict) and isinstance(value, Mapping):
                out[key] = _merge(out[key], value)
            else:
                out[key] = value
            continue
        nested = out.setdefault(head, {})
        if not isinstance(nested, dict):
            raise ConfigError(_join(path, head), "given both as a value and as a section")
        out[head] = _merge(nested, _expand_dotted({rest: value}, _join(path, head)))
    return out


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key in out and isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return type(value).__name__


# --- converters -----------------------------------------------------------------------------------


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def at_least(minimum: float, convert: Converter = integer) -> Converter:
    def check(value: Any) -> Any:
        converted = convert(value)
        if converted < minimum:
            raise ValueError(f"must be at least {minimum}, got {value!r}")
        return converted

    return check


def one_of(*choices: str) -> Converter:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    return check


def string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return list(value)


def port_list(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of ports, got {value!r}")
    ports = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 65536:
            raise ValueError(f"ports must be integers from 1 to 65535, got {item!r}")
        ports.append(item)
    return ports


_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(value: Any) -> float:
    """Go-style duration (`30s`, `1m`, `500ms`, `-1`) in seconds; a bare number means seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        total = 0.0
        parts = re.findall(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value.replace(" ", ""))
        if parts and "".join(n + u for n, u in parts) == value.replace(" ", ""):
            for amount, unit in parts:
                total += float(amount) * _DURATION_UNITS[unit]
            return total
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    raise ValueError(f"expected a duration such as 30s, 500ms or 1m, got {value!r}")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size(value: Any) -> int:
    """Byte size (`10MB`, `1GiB`, `4096`); units are powers of 1024 as in Beats."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 10MB, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = (match.group(2) or "").lower()[:1] if (match.group(2) or "").lower() != "b" else "b"
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"expected a size such as 10MB or 4096, got {value!r}")
