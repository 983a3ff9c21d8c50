"""Beats event format strings and `indices`/`keys` selector rules, as outputs use them to name targets.

`%{[agent.version]}` (or `%{[agent][version]}`) reads a field of the event, `%{[field]:fallback}` gives a
fallback when the field is missing, and `%{+yyyy.MM.dd}` formats the event's `@timestamp` (UTC) with
Joda-style letters. A selector is the list of `indices` rules (each `index` or `key`, optional `when`,
`mappings`, `default`) followed by the single `index`/`key` setting; the first non-empty answer wins.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..settings import ConfigError

__all__ = ["FormatString", "Selector", "SelectorError", "build_selector", "build_condition", "lookup"]


class SelectorError(Exception):
    """The event lacks what the format string or rules need; no target can be named for it."""


_MISSING = object()
_FIELD = re.compile(r"%\{(\[[^}]*?\](?:\[[^}]*?\])*|\+[^}]*)(?::([^}]*))?\}")
_JODA = re.compile(r"([a-zA-Z])\1*|'[^']*'|[^a-zA-Z']+")
# Slices of an RFC 3339 timestamp such as 2015-07-11T21:47:24.428Z, by Joda pattern letter run.
_TS_SLICES: dict[str, tuple[int, int]] = {
    "yyyy": (0, 4), "YYYY": (0, 4), "yy": (2, 4), "YY": (2, 4), "MM": (5, 7), "dd": (8, 10),
    "HH": (11, 13), "mm": (14, 16), "ss": (17, 19), "SSS": (20, 23),
}
_TS_UNPADDED = {"M": (5, 7), "d": (8, 10), "H": (11, 13), "m": (14, 16), "s": (17, 19)}
_TIMESTAMP_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """Value at dotted `path`, following nested dicts and also accepting literal dotted keys."""
    if path in event:
        return event[path]
    node: Any = event
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return _MISSING
        # Longest literal key first, so {"a.b": 1} and {"a": {"b": 1}} both resolve "a.b".
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return _MISSING
    return node


Piece = Callable[[Mapping[str, Any]], str]


class FormatString:
    """A compiled format string; `render(event)` raises SelectorError when a field is missing."""

    __slots__ = ("text", "pieces", "is_constant", "fields")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces: list[Piece | str] = []
        fields: list[str] = []  # what `render` reads, for the publisher to carry beside the encoded event
        pos = 0
        for match in _FIELD.finditer(text):
            if match.start() > pos:
                self.pieces.append(text[pos : match.start()])
            body, fallback = match.group(1), match.group(2)
            if body.startswith("+"):
                self.pieces.append(_timestamp_piece(body[1:], text))
                fields.append("@timestamp")
            else:
                path = ".".join(p for p in body[1:-1].split("][") if p)
                if not path:
                    raise ConfigError("", f"empty field name in format string {text!r}")
                self.pieces.append(_field_piece(path, fallback))
                fields.append(path)
            pos = match.end()
        if pos < len(text):
            self.pieces.append(text[pos:])
        if "%{" in "".join(p for p in self.pieces if isinstance(p, str)):
            raise ConfigError("", f"unsupported field reference in format string {text!r}; use %{{[field]}}")
        self.is_constant = all(isinstance(p, str) for p in self.pieces)
        self.fields = tuple(fields)

    def render(self, event: Mapping[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else p(event) for p in self.pieces)


def _field_piece(path: str, fallback: str | None) -> Piece:
    def piece(event: Mapping[str, Any]) -> str:
        value = lookup(event, path)
        if value is _MISSING or value is None:
            if fallback is not None:
                return fallback
            raise SelectorError(f"field {path!r} is missing")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Mapping | list):
            raise SelectorError(f"field {path!r} is not a scalar")
        return str(value)

    return piece


def _timestamp_piece(pattern: str, text: str) -> Piece:
    parts: list[tuple[int, int, bool] | str] = []
    for token in (m.group(0) for m in _JODA.finditer(pattern)):
        if token.startswith("'"):
            parts.append(token[1:-1] or "'")
        elif token[0].isalpha():
            if token in _TS_SLICES:
                parts.append((*_TS_SLICES[token], False))
            elif token in _TS_UNPADDED:
                parts.append((*_TS_UNPADDED[token], True))
            else:
                raise ConfigError("", f"unsupported date pattern {token!r} in format string {text!r}")
        else:
            parts.append(token)

    def piece(event: Mapping[str, Any]) -> str:
        ts = event.get("@timestamp")
        if not isinstance(ts, str) or not _TIMESTAMP_SHAPE.match(ts):
            raise SelectorError("event has no RFC 3339 @timestamp")
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                start, end, unpadded = part
                value = ts[start:end] if end <= len(ts) else "000"[: end - start]
                out.append((value.lstrip("0") or "0") if unpadded else value)
        return "".join(out)

    return piece


# --- conditions (`when`) ---------------------------------------------------------------------------

Condition = Callable[[Mapping[str, Any]], bool]


def build_condition(spec: Any, path: str = "when") -> Condition:
    """Compile a Beats condition (equals, contains, regexp, range, has_fields, network, and, or, not)."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(path, "a condition is a mapping with exactly one operator")
    (op, arg), = spec.items()
    builder = _CONDITIONS.get(op)
    if builder is None:
        raise ConfigError(path, f"unknown condition {op!r} (known: {', '.join(sorted(_CONDITIONS))})")
    return builder(arg, f"{path}.{op}")


def _fields_of(arg: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(arg, Mapping) or not arg:
        raise ConfigError(path, "expected a mapping of field names to values")
    return arg


def _equals(arg: Any, path: str) -> Condition:
    wanted = dict(_fields_of(arg, path))
    return lambda e: all(_scalar_equal(lookup(e, f), v) for f, v in wanted.items())


def _scalar_equal(value: Any, wanted: Any) -> bool:
    if value is _MISSING:
        return False
    if isinstance(wanted, bool) or isinstance(value, bool):
        return value is wanted
    if isinstance(wanted, int | float) and isinstance(value, int | float):
        return value == wanted
    return str(value) == str(wanted)


def _contains(arg: Any, path: str) -> Condition:
    wanted = {f: str(v) for f, v in _fields_of(arg, path).items()}

    def check(e: Mapping[str, Any]) -> bool:
        for field, needle in wanted.items():
            value = lookup(e, field)
            if isinstance(value, list):
                if not any(isinstance(v, str) and needle in v for v in value):
                    return False
            elif not isinstance(value, str) or needle not in value:
                return False
        return True

    return check


def _regexp(arg: Any, path: str) -> Condition:
    try:
        patterns = {f: re.compile(str(v)) for f, v in _fields_of(arg, path).items()}
    except re.error as exc:
        raise ConfigError(path, f"bad regular expression: {exc}") from None

    def check(e: Mapping[str, Any]) -> bool:
        for field, pattern in patterns.items():
            value = lookup(e, field)
            values = value if isinstance(value, list) else [value]
            if not any(isinstance(v, str) and pattern.search(v) for v in values):
                return False
        return True

    return check


_RANGE_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _range(arg: Any, path: str) -> Condition:
    checks: list[tuple[str, Callable[[float, float], bool], float]] = []
    for key, bound in _fields_of(arg, path).items():
        field, _, op = key.rpartition(".")
        if op not in _RANGE_OPS or not field or isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ConfigError(f"{path}.{key}", "expected <field>.gt|gte|lt|lte: <number>")
        checks.append((field, _RANGE_OPS[op], float(bound)))

    def check(e: Mapping[str, Any]) -> bool:
        for field, compare, bound in checks:
            value = lookup(e, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or not compare(value, bound):
                return False
        return True

    return check


def _has_fields(arg: Any, path: str) -> Condition:
    if not isinstance(arg, list) or not all(isinstance(f, str) for f in arg):
        raise ConfigError(path, "expected a list of field names")
    return lambda e: all(lookup(e, f) is not _MISSING for f in arg)


_NAMED_NETWORKS: dict[str, Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]] = {
    "loopback": lambda ip: ip.is_loopback,
    "private": lambda ip: ip.is_private and not ip.is_loopback and not ip.is_link_local,
    "multicast": lambda ip: ip.is_multicast,
    "link_local_unicast": lambda ip: ip.is_link_local,
    "unspecified": lambda ip: ip.is_unspecified,
    "public": lambda ip: ip.is_global,
}


def _within(cidr: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Callable[[Any], bool]:
    return lambda ip: ip.version == cidr.version and ip in cidr


def _network(arg: Any, path: str) -> Condition:
    tests: list[tuple[str, list[Callable[[Any], bool]]]] = []
    for field, nets in _fields_of(arg, path).items():
        preds: list[Callable[[Any], bool]] = []
        for net in nets if isinstance(nets, list) else [nets]:
            if net in _NAMED_NETWORKS:
                preds.append(_NAMED_NETWORKS[net])
                continue
            try:
                cidr = ipaddress.ip_network(str(net), strict=False)
            except ValueError:
                raise ConfigError(f"{path}.{field}", f"not a CIDR or named network: {net!r}") from None
            preds.append(_within(cidr))
        tests.append((field, preds))

    def check(e: Mapping[str, Any]) -> bool:
        for field, preds in tests:
            try:
                ip = ipaddress.ip_address(str(lookup(e, field)))
            except ValueError:
                return False
            if not any(p(ip) for p in preds):
                return False
        return True

    return check


def _or(arg: Any, path: str) -> Condition:
    subs = _condition_list(arg, path)
    return lambda e: any(c(e) for c in subs)


def _and(arg: Any, path: str) -> Condition:
    subs = _condition_list(arg, path)
    return lambda e: all(c(e) for c in subs)


def _not(arg: Any, path: str) -> Condition:
    sub = build_condition(arg, path)
    return lambda e: not sub(e)


def _condition_list(arg: Any, path: str) -> list[Condition]:
    if not isinstance(arg, list) or not arg:
        raise ConfigError(path, "expected a non-empty list of conditions")
    return [build_condition(c, f"{path}.{i}") for i, c in enumerate(arg)]


_CONDITIONS: dict[str, Callable[[Any, str], Condition]] = {
    "equals": _equals, "contains": _contains, "regexp": _regexp, "range": _range,
    "has_fields": _has_fields, "network": _network, "or": _or, "and": _and, "not": _not,
}


# --- selectors --------------------------------------------------------------------------------------


class _Rule:
    __slots__ = ("fmt", "when", "mappings", "default")

    def __init__(self, fmt: FormatString, when: Condition | None, mappings: Mapping[str, str] | None,
                 default: str) -> None:
        self.fmt, self.when, self.mappings, self.default = fmt, when, mappings, default

    def select(self, event: Mapping[str, Any]) -> str:
        if self.when is not None and not self.when(event):
            return ""
        try:
            name = self.fmt.render(event)
        except SelectorError:
            return self.default
        if self.mappings is not None:
            name = self.mappings.get(name, "")
        return name or self.default


class Selector:
    """Names the target (index, key) of an event from rules; raises SelectorError if none applies."""

    __slots__ = ("rules", "lowercase", "constant")

    def __init__(self, rules: list[_Rule], lowercase: bool) -> None:
        self.rules = rules
        self.lowercase = lowercase
        only = rules[0] if len(rules) == 1 else None
        self.constant: str | None = None
        if only is not None and only.fmt.is_constant and only.when is None and only.mappings is None:
            name = only.fmt.text
            self.constant = name.lower() if lowercase else name

    def select(self, event: Mapping[str, Any]) -> str:
        if self.constant is not None:
            return self.constant
        for rule in self.rules:
            name = rule.select(event)
            if name:
                return name.lower() if self.lowercase else name
        raise SelectorError(self._why_none(event))

    def _why_none(self, event: Mapping[str, Any]) -> str:
        """The failure path only: name the missing field when a rule applied but could not render."""
        for rule in self.rules:
            if rule.when is None or rule.when(event):
                try:
                    rule.fmt.render(event)
                except SelectorError as exc:
                    return f"no target for this event: {exc}"
        return "no rule names a target for this event"


def build_selector(single: str | None, rules: list[Any] | None, key: str, path: str,
                   lowercase: bool = False) -> Selector:
    """`single` is the `index`/`key` setting, `rules` the `indices`/`keys` list; `key` names the rule field."""
    built: list[_Rule] = []
    for i, raw in enumerate(rules or []):
        rule_path = f"{path}.{i}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get(key), str):
            raise ConfigError(rule_path, f"each rule needs a string {key!r}")
        raw = _fold_when(raw, rule_path)
        unknown = set(raw) - {key, "when", "mappings", "default"}
        if unknown:
            raise ConfigError(rule_path, f"unknown rule settings: {', '.join(sorted(unknown))}")
        mappings = raw.get("mappings")
        if mappings is not None and not isinstance(mappings, Mapping):
            raise ConfigError(f"{rule_path}.mappings", "expected a mapping")
        when = build_condition(raw["when"], f"{rule_path}.when") if "when" in raw else None
        built.append(_Rule(_compile(raw[key], f"{rule_path}.{key}"), when,
                           {str(k): str(v) for k, v in mappings.items()} if mappings else None,
                           str(raw.get("default") or "")))
    if single:
        built.append(_Rule(_compile(single, path.rpartition(".")[0] + f".{key}"), None, None, ""))
    if not built:
        raise ConfigError(path, f"set {key!r} or at least one rule")
    return Selector(built, lowercase)


def _fold_when(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`when.equals: {...}` is how Beats configs often spell `when: {equals: {...}}`."""
    out = {k: v for k, v in raw.items() if not k.startswith("when.")}
    dotted = {k[len("when."):]: v for k, v in raw.items() if k.startswith("when.")}
    if dotted:
        if "when" in out:
            raise ConfigError(f"{path}.when", "given both as `when` and as `when.<operator>`")
        out["when"] = dotted
    return out


def _compile(text: str, path: str) -> FormatString:
    try:
        return FormatString(text)
    except ConfigError as exc:
        raise ConfigError(path, exc.reason) from None
