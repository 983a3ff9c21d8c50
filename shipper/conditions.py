"""Beats conditions (`when` of processors and of output rules), compiled once into predicates on events.

Operators: `equals`, `contains`, `regexp`, `range`, `has_fields`, `network`, `or`, `and`, `not`. Value types
follow libbeat's conditions package: `equals` compares an integer only with an integer, a string only with
a string and a boolean only with a boolean (`"200"` never equals the number 200); `contains` and `regexp`
test strings or lists of strings; `range` takes numbers, or strings that parse as numbers; a missing field
makes the condition false (not an error). Field names are dotted paths (`http.response.status_code`),
found in nested mappings or under literal dotted keys; nested condition mappings are flattened, as
libbeat does, so `range: {bytes: {gte: 10}}` means `range: {bytes.gte: 10}`.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .settings import ConfigError

__all__ = ["Condition", "MISSING", "build_condition", "lookup", "path_getter", "NAMED_NETWORKS"]

Condition = Callable[[Mapping[str, Any]], bool]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """Value at dotted `path`, or MISSING; nested dicts and literal dotted keys ({"a.b": 1}) both resolve."""
    return path_getter(path)(event)


@functools.lru_cache(maxsize=4096)  # paths come from the configuration: a few, each looked up per event
def path_getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """`lookup(event, path)` for one `path`, with the candidate keys joined once, not per event: the whole
    path as a literal key first, then at each level the longest literal dotted key."""
    parts = path.split(".")
    # candidates[i]: (key, next level) for the keys that may start at part i, longest first
    candidates = [tuple((".".join(parts[i:j]), j) for j in range(len(parts), i, -1)) for i in range(len(parts))]
    end = len(parts)

    def get(event: Mapping[str, Any]) -> Any:
        if path in event:
            return event[path]
        node: Any = event
        i = 0
        while i < end:
            if type(node) is not dict and not isinstance(node, Mapping):  # the ABC check is slow
                return MISSING
            for key, j in candidates[i]:
                if key in node:
                    node, i = node[key], j
                    break
            else:
                return MISSING
        return node

    return get


def build_condition(spec: Any, path: str = "when") -> Condition:
    """Compile one condition; a bad one is a ConfigError naming `path` and the operator."""
    if isinstance(spec, Mapping):
        spec = _expand_operator_keys(spec, path)
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(path, "a condition is a mapping with exactly one operator "
                          f"({', '.join(sorted(_BUILDERS))})")
    (op, arg), = spec.items()
    builder = _BUILDERS.get(op)
    if builder is None:
        raise ConfigError(path, f"unknown condition {op!r} (known: {', '.join(sorted(_BUILDERS))})")
    return builder(arg, f"{path}.{op}")


def _expand_operator_keys(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`{"equals.type": "dns"}` (YAML's `when.equals.type: dns`) is `{"equals": {"type": "dns"}}`."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        op, _, rest = str(key).partition(".")
        if not rest:
            if isinstance(out.get(op), dict) and isinstance(value, Mapping):
                out[op].update(value)
            else:
                out[op] = value
            continue
        target = out.setdefault(op, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{path}.{op}", "given both as a value and as dotted field keys")
        target[rest] = value
    return out


def _flat_fields(arg: Any, path: str) -> dict[str, Any]:
    if not isinstance(arg, Mapping) or not arg:
        raise ConfigError(path, "expected a mapping of field names to values")
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                walk(name, value)
            else:
                out[name] = value

    walk("", arg)
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- equals ------------------------------------------------------------------------------------------

def _equals(arg: Any, path: str) -> Condition:
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for field, wanted in _flat_fields(arg, path).items():
        checks.append((field, _equals_value(wanted, f"{path}.{field}")))
    return lambda e: all(check(lookup(e, field)) for field, check in checks)


def _equals_value(wanted: Any, path: str) -> Callable[[Any], bool]:
    if isinstance(wanted, bool):
        return lambda v: isinstance(v, bool) and v is wanted
    if _is_int(wanted):
        return lambda v: _is_int(v) and v == wanted
    if isinstance(wanted, str):
        return lambda v: isinstance(v, str) and v == wanted
    raise ConfigError(path, f"equals compares integers, strings or booleans, not {type(wanted).__name__}")


# --- contains, regexp --------------------------------------------------------------------------------

def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _contains(arg: Any, path: str) -> Condition:
    wanted: list[tuple[str, str]] = []
    for field, needle in _flat_fields(arg, path).items():
        if not isinstance(needle, str):
            raise ConfigError(f"{path}.{field}", "contains takes a string")
        wanted.append((field, needle))
    return lambda e: all(any(n in s for s in _strings(lookup(e, f))) for f, n in wanted)


def _regexp(arg: Any, path: str) -> Condition:
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for field, text in _flat_fields(arg, path).items():
        if not isinstance(text, str):
            raise ConfigError(f"{path}.{field}", "regexp takes a regular expression string")
        try:
            patterns.append((field, re.compile(text)))
        except re.error as exc:
            raise ConfigError(f"{path}.{field}", f"bad regular expression: {exc}") from None
    # Like Go's MatchString: a match anywhere in the value, not anchored.
    return lambda e: all(any(p.search(s) for s in _strings(lookup(e, f))) for f, p in patterns)


# --- range -------------------------------------------------------------------------------------------

_RANGE_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _range(arg: Any, path: str) -> Condition:
    checks: list[tuple[str, Callable[[float, float], bool], float]] = []
    for key, bound in _flat_fields(arg, path).items():
        field, _, op = key.rpartition(".")
        number = _number(bound)
        if op not in _RANGE_OPS or not field or number is None:
            raise ConfigError(f"{path}.{key}", "expected <field>.gt|gte|lt|lte: <number>")
        checks.append((field, _RANGE_OPS[op], number))

    def check(e: Mapping[str, Any]) -> bool:
        for field, compare, bound in checks:
            value = _number(lookup(e, field))
            if value is None or not compare(value, bound):
                return False
        return True

    return check


# --- has_fields --------------------------------------------------------------------------------------

def _has_fields(arg: Any, path: str) -> Condition:
    if not isinstance(arg, list) or not arg or not all(isinstance(f, str) for f in arg):
        raise ConfigError(path, "expected a list of field names")
    fields = list(arg)
    return lambda e: all(lookup(e, f) is not MISSING for f in fields)


# --- network -----------------------------------------------------------------------------------------

_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")]
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_V4_LINK_LOCAL_MULTICAST = ipaddress.IPv4Network("224.0.0.0/24")


def _link_local_unicast(ip: Address) -> bool:
    return ip.is_link_local and not ip.is_multicast


def _link_local_multicast(ip: Address) -> bool:
    if ip.version == 4:
        return ip in _V4_LINK_LOCAL_MULTICAST
    return ip.is_multicast and (int(ip) >> 112) & 0xF == 2


def _interface_local_multicast(ip: Address) -> bool:
    return ip.version == 6 and ip.is_multicast and (int(ip) >> 112) & 0xF == 1


def _global_unicast(ip: Address) -> bool:
    """Go's IP.IsGlobalUnicast, which Beats uses: private addresses count as global unicast."""
    return not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or _link_local_unicast(ip)
                or ip == _BROADCAST)


def _private(ip: Address) -> bool:
    return any(ip in net for net in _PRIVATE if net.version == ip.version)


def _public(ip: Address) -> bool:
    """libbeat's !isLocalOrPrivate."""
    return not (_private(ip) or ip.is_loopback or ip.is_unspecified or _link_local_unicast(ip)
                or _link_local_multicast(ip) or _interface_local_multicast(ip) or ip == _BROADCAST)


NAMED_NETWORKS: dict[str, Callable[[Address], bool]] = {
    "loopback": lambda ip: ip.is_loopback,
    "unicast": _global_unicast,
    "global_unicast": _global_unicast,
    "link_local_unicast": _link_local_unicast,
    "interface_local_multicast": _interface_local_multicast,
    "link_local_multicast": _link_local_multicast,
    "multicast": lambda ip: ip.is_multicast,
    "unspecified": lambda ip: ip.is_unspecified,
    "private": _private,
    "public": _public,
}


def _address(value: Any) -> Address | None:
    if not isinstance(value, str):
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:  # Go treats ::ffff:a.b.c.d as IPv4
        return ip.ipv4_mapped
    return ip


def _network(arg: Any, path: str) -> Condition:
    if not isinstance(arg, Mapping) or not arg:
        raise ConfigError(path, "expected a mapping of field names to networks")
    tests: list[tuple[str, list[Callable[[Address], bool]]]] = []
    for field, nets in arg.items():
        preds: list[Callable[[Address], bool]] = []
        for net in nets if isinstance(nets, list) else [nets]:
            if net in NAMED_NETWORKS:
                preds.append(NAMED_NETWORKS[net])
                continue
            try:
                cidr = ipaddress.ip_network(str(net), strict=False)
            except ValueError:
                raise ConfigError(f"{path}.{field}", f"not a CIDR or named network: {net!r}") from None
            preds.append(_within(cidr))
        if not preds:
            raise ConfigError(f"{path}.{field}", "expected at least one network")
        tests.append((str(field), preds))

    def check(e: Mapping[str, Any]) -> bool:
        for field, preds in tests:
            value = lookup(e, field)
            addresses = [_address(v) for v in (value if isinstance(value, list) else [value])]
            if not any(ip is not None and p(ip) for ip in addresses for p in preds):
                return False
        return True

    return check


def _within(cidr: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Callable[[Address], bool]:
    return lambda ip: ip.version == cidr.version and ip in cidr


# --- or, and, not ------------------------------------------------------------------------------------

def _sub_conditions(arg: Any, path: str) -> list[Condition]:
    if not isinstance(arg, list) or not arg:
        raise ConfigError(path, "expected a non-empty list of conditions")
    return [build_condition(c, f"{path}.{i}") for i, c in enumerate(arg)]


def _or(arg: Any, path: str) -> Condition:
    subs = _sub_conditions(arg, path)
    return lambda e: any(c(e) for c in subs)


def _and(arg: Any, path: str) -> Condition:
    subs = _sub_conditions(arg, path)
    return lambda e: all(c(e) for c in subs)


def _not(arg: Any, path: str) -> Condition:
    sub = build_condition(arg, path)
    return lambda e: not sub(e)


_BUILDERS: dict[str, Callable[[Any, str], Condition]] = {
    "equals": _equals, "contains": _contains, "regexp": _regexp, "range": _range,
    "has_fields": _has_fields, "network": _network, "or": _or, "and": _and, "not": _not,
}
