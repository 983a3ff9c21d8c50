"""Declarative config keys: each component declares its settings as data, and one validator checks them.

A spec is a dict mapping a key to a `Setting` or to a nested spec. `validate(spec, raw, path)` returns a
new dict with every default filled in, or raises `ConfigError` naming the dotted path and the reason.
Unknown keys are errors, as are values of the wrong type.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "configured",
    "ConfigError",
    "Setting",
    "Spec",
    "validate",
    "duration",
    "size",
    "one_of",
    "at_least",
    "between",
    "ignored",
    "period",
    "port_list",
    "quote",
    "string_list",
    "any_mapping",
    "iter_settings",
    "merge",
]


log = logging.getLogger("packetshipper.config")

# Longest part of a value an error message quotes; the whole message is kept to one line and bounded.
MAX_QUOTE = 200
MAX_REASON = 600
# The largest integer any setting takes (a C int: libpcap and the kernel take most of them as one).
INT_MAX = 2**31 - 1
# Sizes up to 1 PiB, durations up to a year: larger ones are typing mistakes.
MAX_SIZE = 1 << 50
MAX_DURATION = 365 * 86400.0
# Deepest nesting of a dotted key (`a.b.c`); the YAML reader bounds the nesting of the document itself.
MAX_KEY_PARTS = 64


def quote(value: Any) -> str:
    """`repr(value)`, cut to MAX_QUOTE characters so that an error message stays readable."""
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails (or recurses) is still named by its type
        text = f"<{type(value).__name__}>"
    if len(text) <= MAX_QUOTE:
        return text
    return _cut(text, MAX_QUOTE)


# A quoted value, or any run without spaces, longer than MAX_QUOTE: whatever converter wrote the message.
_LONG_QUOTE = re.compile(rf"'[^']{{{MAX_QUOTE},}}'|\"[^\"]{{{MAX_QUOTE},}}\"|\S{{{MAX_QUOTE + 1},}}")


def _cut(text: str, limit: int) -> str:
    # The space ends the run of the value, so cutting twice never happens.
    return text if len(text) <= limit else f"{text[:limit]} ... ({len(text) - limit} more characters)"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    text = _LONG_QUOTE.sub(lambda match: _cut(match.group(0), MAX_QUOTE), text)
    return _cut(text, limit)


class ConfigError(Exception):
    """A config value is missing, unknown or invalid; `path` is the dotted key.

    Both parts are kept to one line and bounded, whatever the value or key quoted in them.
    """

    def __init__(self, path: str, reason: str) -> None:
        path = _one_line(path, MAX_QUOTE)
        reason = _one_line(reason, MAX_REASON)
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
    ignored: bool = False  # accepted with a warning, value dropped (see `ignored`)


Spec = Mapping[str, "Setting | Spec"]


def any_mapping(doc: str = "") -> Setting:
    """A free-form mapping that ends up in events or request bodies: JSON-like contents only."""

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a mapping, got {_kind(value)}")
        return _json_like(value, "")

    return Setting(convert, {}, doc)


def _json_like(value: Any, where: str) -> Any:
    """Strings, finite numbers, booleans, null, lists and string-keyed mappings; dates become text."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(where, f"keys must be strings, got {quote(key)}")
            out[key] = _json_like(item, _join(where, key))
        return out
    if isinstance(value, list):
        return [_json_like(item, _join(where, str(i))) for i, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(where, f"expected a finite number, got {quote(value)}")
    if isinstance(value, datetime.date):  # YAML reads 2024-01-01 as a date; events carry it as text
        return value.isoformat()
    if value is None or isinstance(value, str | int | float):
        return value
    raise ConfigError(where, f"expected text, a number, true/false, a list or a mapping, got {_kind(value)}")


def ignored(doc: str) -> Setting:
    """A Beats key accepted so that existing configs load; it has no effect here, and a warning says so.

    The key is left out of the validated result, so validating the result again warns no more.
    """
    return Setting(lambda value: None, None, f"accepted for Beats compatibility; no effect ({doc})", ignored=True)


def validate(spec: Spec, raw: Any, path: str = "") -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"expected a mapping, got {_kind(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(path, f"keys must be strings, got {quote(key)}")
    raw = _expand_dotted(raw, path)
    out: dict[str, Any] = {}
    for key, _value in raw.items():
        if key not in spec:
            known = ", ".join(sorted(spec))
            raise ConfigError(_join(path, key), f"unknown setting (known here: {known})")
    for key, entry in spec.items():
        sub = _join(path, key)
        if isinstance(entry, Setting):
            if entry.ignored:
                # Named once however it is given (`setup.kibana:` with nothing under it too); left out of
                # the result, so validating the result again warns no more.
                if key in raw:
                    log.warning("%s: has no effect in packetshipper; ignored", sub)
            elif key in raw and raw[key] is not None:
                try:
                    out[key] = entry.convert(raw[key])
                except ConfigError:
                    raise
                except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
                    raise ConfigError(sub, str(exc)) from None
            elif entry.required:
                raise ConfigError(sub, "required setting is missing")
            else:
                out[key] = entry.default
        else:
            out[key] = validate(entry, raw.get(key), sub)
    return out


def iter_settings(spec: Spec, path: str = "") -> Iterator[tuple[str, Setting]]:
    """Every Setting in `spec` and its nested specs, with its dotted path."""
    for key, entry in spec.items():
        if isinstance(entry, Setting):
            yield _join(path, key), entry
        else:
            yield from iter_settings(entry, _join(path, key))


def _expand_dotted(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Beats accepts `a.b: 1` as well as `a: {b: 1}`; fold the dotted form into the nested one."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.count(".") >= MAX_KEY_PARTS:
            raise ConfigError(path, f"key {quote(key)} has more than {MAX_KEY_PARTS} dotted parts")
        head, dot, rest = key.partition(".")
        if not dot:
            if key in out and isinstance(out[key], dict) and isinstance(value, Mapping):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
            continue
        nested = out.setdefault(head, {})
        if not isinstance(nested, dict):
            raise ConfigError(_join(path, head), "given both as a value and as a section")
        out[head] = merge(nested, _expand_dotted({rest: value}, _join(path, head)))
    return out


def merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """`a` with `b` laid over it, mappings merged key by key, anything else replaced."""
    out = dict(a)
    for key, value in b.items():
        if key in out and isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = merge(out[key], value)
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
    raise ValueError(f"expected true or false, got {quote(value)}")


def integer(value: Any) -> int:
    """An integer a C int can hold; settings with a narrower meaning add `at_least` / `between`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {quote(value)}")
    if not -INT_MAX - 1 <= value <= INT_MAX:
        raise ValueError(f"must be from {-INT_MAX - 1} to {INT_MAX}, got {quote(value)}")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {quote(value)}")
    converted = float(value)
    if not math.isfinite(converted):
        raise ValueError(f"expected a finite number, got {quote(value)}")
    return converted


def string(value: Any) -> str:
    """Text without NUL: paths, filters and names all end up in C calls, which stop at the first NUL."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {quote(value)}")
    if "\x00" in value:
        raise ValueError(f"must not contain a NUL character, got {quote(value)}")
    return value


def at_least(minimum: float, convert: Converter = integer, maximum: float | None = None) -> Converter:
    def check(value: Any) -> Any:
        converted = convert(value)
        if converted < minimum:
            raise ValueError(f"must be at least {minimum}, got {quote(value)}")
        if maximum is not None and converted > maximum:
            raise ValueError(f"must be at most {maximum}, got {quote(value)}")
        return converted

    return check


def between(minimum: float, maximum: float, convert: Converter = integer) -> Converter:
    """`convert`, then a check that the result is from `minimum` to `maximum` inclusive."""

    def check(value: Any) -> Any:
        converted = convert(value)
        if not minimum <= converted <= maximum:
            raise ValueError(f"must be from {minimum} to {maximum}, got {quote(value)}")
        return converted

    return check


def one_of(*choices: str) -> Converter:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {quote(value)}")
        return str(value)

    return check


def string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [string(value)]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {quote(value)}")
    return [string(item) for item in value]


def port_list(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of ports, got {quote(value)}")
    ports = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 65536:
            raise ValueError(f"ports must be integers from 1 to 65535, got {quote(item)}")
        ports.append(item)
    return ports


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def _seconds(value: Any) -> float:
    """A Go-style duration (`30s`, `1m30s`, `500ms`) or a bare number of seconds, sign kept."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, got {quote(value)}")
    if isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > MAX_DURATION:
            raise ValueError(f"must be at most {MAX_DURATION:.0f}s (a year), got {quote(value)}")
        return float(value)
    if isinstance(value, str):
        text = value.replace(" ", "")
        if _NUMBER.match(text):
            return float(text)
        sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.removeprefix("+"))
        parts = _DURATION_PART.findall(body)
        if parts and "".join(itertools.chain.from_iterable(parts)) == body:
            return sign * sum(float(amount) * _DURATION_UNITS[unit] for amount, unit in parts)
    raise ValueError(f"expected a duration such as 30s, 500ms or 1m, got {quote(value)}")


def duration(value: Any) -> float:
    """Go-style duration (`30s`, `1m`, `500ms`) in seconds; a bare number means seconds.

    NaN, infinite, negative and over-a-year durations are errors.
    """
    seconds = _seconds(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"expected a duration of 0 or more, such as 30s, got {quote(value)}")
    if seconds > MAX_DURATION:
        raise ValueError(f"must be at most {MAX_DURATION:.0f}s (a year), got {quote(value)}")
    return seconds


def period(value: Any) -> float:
    """A `duration`, or -1 (Packetbeat's `flows.period: -1`: never, only when the flow ends)."""
    if _seconds(value) == -1.0:
        return -1.0
    try:
        return duration(value)
    except ValueError:
        raise ValueError(f"expected a duration such as 10s, or -1 for never; got {quote(value)}") from None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size(value: Any) -> int:
    """Byte size (`10MB`, `1GiB`, `4096`); units are powers of 1024 as in Beats. 0 to 1 PiB."""
    converted: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        converted = value
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = (match.group(2) or "").lower()[:1] if (match.group(2) or "").lower() != "b" else "b"
            converted = float(match.group(1)) * _SIZE_UNITS[unit]
    if converted is None:
        raise ValueError(f"expected a size such as 10MB or 4096, got {quote(value)}")
    if not 0 <= converted <= MAX_SIZE:  # also false for NaN and infinity (`9999...9TB` reads as inf)
        raise ValueError(f"expected a size from 0 to 1PiB, got {quote(value)}")
    return int(converted)


def configured(spec: Spec, config: Mapping[str, Any]) -> Callable[[str], Any]:
    """`get(key)`: the value `config` gives `key`, or the default `spec` declares for it (None for a nested
    section) when the key is missing or null: how a module reads its own settings."""

    def get(key: str) -> Any:
        value = config.get(key)
        if value is None:
            entry = spec[key]
            return entry.default if isinstance(entry, Setting) else None
        return value

    return get
