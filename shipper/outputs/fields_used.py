"""Which event fields an output's routing settings read: format strings, `when` conditions, rule lists.

The publisher extracts only these from each event (beside its encoded bytes), so outputs route an event
without decoding it. Read from the configuration as written; a name read twice, or one a condition
only might read, costs one lookup per event and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .index_format import FormatString

__all__ = ["condition_fields", "format_fields", "rule_fields"]

_COMBINATORS = ("or", "and")


def format_fields(text: Any) -> set[str]:
    """Fields a format string reads (`@timestamp` for a date pattern); none for a bad one (the output's
    own check of the setting reports it)."""
    if not isinstance(text, str) or not text:
        return set()
    try:
        return set(FormatString(text).fields)
    except Exception:  # a ConfigError raised where the setting is really compiled
        return set()


def condition_fields(spec: Any) -> set[str]:
    """Fields a Beats condition (`equals`, `contains`, `regexp`, `range`, `has_fields`, `network`,
    `or`, `and`, `not`, also written `equals.type: dns`) reads."""
    out: set[str] = set()
    if not isinstance(spec, Mapping):
        return out
    for op, arg in spec.items():
        op = str(op)
        if "." in op:  # `{"equals.type": "dns"}`
            op, _, rest = op.partition(".")
            arg = {rest: arg}
        if op in _COMBINATORS and isinstance(arg, list):
            for sub in arg:
                out |= condition_fields(sub)
        elif op == "not":
            out |= condition_fields(arg)
        elif op == "has_fields" and isinstance(arg, list):
            out.update(f for f in arg if isinstance(f, str))
        elif op == "range" and isinstance(arg, Mapping):  # `http.response.status_code.gte: 400`
            out.update(name.rpartition(".")[0] for name, leaf in _names(arg, "") if leaf)
        elif isinstance(arg, Mapping):
            out.update(name for name, _ in _names(arg, ""))
    out.discard("")
    return out


def _names(node: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, bool]]:
    """(dotted path, is a leaf) of keys as written and, for nested mappings, of theirs: both
    spellings of a field."""
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        nested = isinstance(value, Mapping)
        yield name, not nested
        if nested:
            yield from _names(value, name)


def rule_fields(single: Any, rules: Any, key: str) -> set[str]:
    """Fields a selector reads: each rule's `key` format string and `when` (or `when.<op>`), then `single`."""
    out = format_fields(single)
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping):
            continue
        out |= format_fields(rule.get(key))
        out |= condition_fields(rule.get("when"))
        out |= condition_fields({k[len("when."):]: v for k, v in rule.items() if str(k).startswith("when.")})
    return out
