"""Processor names, config validation and building chains from Beats' `processors` lists.

A list entry is `{<name>: {<keys>..., when: <condition>}}`, or libbeat's conditional group
`{if: <condition>, then: [...], else: [...]}`. Every problem is one ConfigError naming the dotted key
(`processors.2.rename.fields.0.to`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..conditions import Condition, build_condition
from ..settings import ConfigError, Spec, quote, validate
from .adding import AddFields, AddId, AddLabels, AddLocale, AddTags
from .base import Chain, Event, Processor, ProcessorStats, Step, when_setting
from .decoding import DecodeJsonFields
from .filtering import DropEvent, DropFields, IncludeFields
from .hashing import CommunityId, Fingerprint
from .host import AddHostMetadata
from .mutating import CopyFields, Rename, Replace, TruncateFields
from .network import AddNetworkDirection, RegisteredDomain
from .placeholders import PLACEHOLDERS, placeholder

__all__ = ["PROCESSORS", "MAX_PROCESSORS", "validate_processors", "build_chain"]

_CLASSES: list[type[Processor]] = [
    DropEvent, DropFields, IncludeFields, AddFields, AddTags, AddLabels, Rename, CopyFields, TruncateFields,
    Replace, AddHostMetadata, AddLocale, AddId, Fingerprint, RegisteredDomain, CommunityId, AddNetworkDirection,
    DecodeJsonFields, *(placeholder(name) for name in PLACEHOLDERS)]
PROCESSORS: dict[str, type[Processor]] = {cls.name: cls for cls in _CLASSES}

MAX_PROCESSORS = 1000  # per list, counting those inside if/then/else: more is a config mistake
_GROUP_KEYS = frozenset({"if", "then", "else"})


class _Group(Processor):
    """libbeat's `if`/`then`/`else`: one list or the other, by a condition."""

    name = "if"

    def __init__(self, condition: Condition, then: Chain, otherwise: Chain | None) -> None:
        super().__init__({}, "")
        self.condition, self.then, self.otherwise = condition, then, otherwise
        self.fail_on_error = False  # the steps inside handle their own errors

    def run(self, event: Event) -> Event | None:
        if self.condition(event):
            return self.then(event)
        return self.otherwise(event) if self.otherwise is not None else event


def _spec_of(cls: type[Processor]) -> Spec:
    return {**cls.spec, "when": when_setting()}


def _compile(raw: Any, path: str, stats: ProcessorStats, budget: list[int]) -> tuple[list[Any], list[Step]]:
    """(validated config, steps) of one processors list."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        raise ConfigError(path, f"expected a list of processors, got {type(raw).__name__}")
    configs: list[Any] = []
    steps: list[Step] = []
    for i, entry in enumerate(raw):
        where = f"{path}.{i}"
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(path, f"more than {MAX_PROCESSORS} processors")
        if not isinstance(entry, Mapping) or not entry:
            raise ConfigError(where, "expected a mapping with one processor, e.g. `drop_event: {when: ...}`")
        if "then" in entry or any(str(key) == "if" or str(key).startswith("if.") for key in entry):
            config, step = _group(entry, where, stats, budget)
        else:
            config, step = _one(entry, where)
        configs.append(config)
        steps.append(step)
    return configs, steps


def _one(entry: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Step]:
    if len(entry) != 1:
        names = ", ".join(sorted(map(str, entry)))
        raise ConfigError(where, f"one processor per list entry, got {names}")
    (name, raw), = entry.items()
    cls = PROCESSORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"{where}.{name}", f"unknown processor (known: {', '.join(sorted(PROCESSORS))})")
    path = f"{where}.{name}"
    if cls.name in PLACEHOLDERS:
        config = dict(raw) if isinstance(raw, Mapping) else {}
    else:
        config = validate(_spec_of(cls), raw, path)
    when = config.get("when")
    condition = build_condition(when, f"{path}.when") if when is not None else None
    return {name: config}, Step(cls(config, path), condition, path)


def _group(entry: Mapping[str, Any], where: str, stats: ProcessorStats,
           budget: list[int]) -> tuple[dict[str, Any], Step]:
    dotted = {str(key)[3:]: value for key, value in entry.items() if str(key).startswith("if.")}
    if dotted:  # YAML's `if.equals.status: OK`
        if "if" in entry:
            raise ConfigError(f"{where}.if", "given both as a value and as dotted keys")
        entry = {**{k: v for k, v in entry.items() if not str(k).startswith("if.")}, "if": dotted}
    for key in entry:
        if key not in _GROUP_KEYS:
            raise ConfigError(f"{where}.{key}", "a conditional entry takes only if, then and else")
    if "if" not in entry or "then" not in entry:
        raise ConfigError(where, "a conditional entry needs both `if` and `then`")
    condition = build_condition(entry["if"], f"{where}.if")
    then_configs, then_steps = _compile(_as_list(entry["then"]), f"{where}.then", stats, budget)
    config: dict[str, Any] = {"if": entry["if"], "then": then_configs}
    otherwise = None
    if entry.get("else") is not None:
        else_configs, else_steps = _compile(_as_list(entry["else"]), f"{where}.else", stats, budget)
        config["else"] = else_configs
        otherwise = Chain(else_steps, stats)
    return config, Step(_Group(condition, Chain(then_steps, stats), otherwise), None, where)


def _as_list(value: Any) -> Any:
    """libbeat takes one processor in `then`/`else` as well as a list."""
    return [value] if isinstance(value, Mapping) else value


def validate_processors(raw: Any, path: str) -> list[Any]:
    """The list as plain data with every processor's defaults filled in; ConfigError if anything is wrong."""
    return _compile(raw, path, ProcessorStats(), [MAX_PROCESSORS])[0]


def build_chain(lists: list[tuple[Any, str]], stats: ProcessorStats) -> Chain | None:
    """One chain running the (validated config, dotted key) lists in order; None if they are all empty."""
    steps: list[Step] = []
    for raw, path in lists:
        steps.extend(_compile(raw, path, stats, [MAX_PROCESSORS])[1])
    return Chain(steps, stats) if steps else None


def processors_list(value: Any) -> list[Any]:
    """Setting converter for a `processors` key whose full path is known only later (per protocol)."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of processors, got {quote(value)}")
    return value
