"""Loads and validates `packetshipper.yml`. Keys follow packetbeat.yml wherever one has a counterpart.

`load(path)` reads YAML and returns the validated config; `validate_config(raw)` does the same for a
dict. Every problem is a `ConfigError` naming the dotted key and the reason. `parse_yaml(text)` is the
one YAML reader (config files and `-E` values): it bounds nesting, aliases and the expanded size before
anything is built, so a hostile or mistaken document is one error line, not a hang or a traceback.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import yaml

from . import settings as s
from .capture import INTERFACE_SETTINGS
from .compat import COMPAT_SETTINGS
from .decode.fragments import FRAGMENT_DEFAULTS
from .flows import FLOW_SETTINGS
from .procs import PROCS_SETTINGS
from .settings import ConfigError, Setting, Spec, validate

__all__ = ["load", "parse_yaml", "parse_override", "read_yaml", "validate_config", "default_config",
           "default_protocols", "every_setting", "alias_packetbeat", "ConfigError", "PACKETBEAT_ONLY_PROTOCOLS"]

log = logging.getLogger("packetshipper.config")

FRAGMENT_SETTINGS: Spec = {
    "max_datagrams": Setting(s.at_least(1), FRAGMENT_DEFAULTS["max_datagrams"], "IP datagrams being reassembled at once"),
    "max_fragments": Setting(s.at_least(2), FRAGMENT_DEFAULTS["max_fragments"], "fragments per datagram"),
    "max_datagram_bytes": Setting(s.at_least(576, s.size), FRAGMENT_DEFAULTS["max_datagram_bytes"],
                                  "largest reassembled datagram; bigger ones are dropped and counted"),
    "timeout": Setting(s.at_least(0.1, s.duration), FRAGMENT_DEFAULTS["timeout"], "give up on a datagram after this"),
}

def _permissions(value: Any) -> int:
    """0600 (YAML reads a leading 0 as octal), 384, or the text "0600"."""
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise ValueError(f"expected octal permissions such as 0600, got {s.quote(value)}") from None
    return int(s.between(0, 0o777)(value))


LOGGING_SETTINGS: Spec = {
    "level": Setting(s.one_of("debug", "info", "warning", "error"), "info", "log level"),
    "to_stderr": Setting(s.boolean, False, "log to stderr (`-e` sets it)"),
    "to_files": Setting(s.boolean, False, "log to rotating files under `files.path`"),
    "selectors": Setting(s.string_list, [], "debug selectors (`-d`), e.g. tcp, http, publisher, or *"),
    "debug_rate_limit": Setting(s.at_least(0), 100, "debug lines each selector may write per second; more are "
                                "counted and reported in one `suppressed N debug lines` line (0: no limit)"),
    "json": Setting(s.boolean, False, "log lines as JSON"),
    "to_syslog": s.ignored("log to stderr or files"),
    "to_eventlog": s.ignored("Windows only"),
    "files": {
        "path": Setting(s.string, None, "log directory (default: path.logs)"),
        "name": Setting(s.string, "packetshipper", "log file name"),
        "keepfiles": Setting(s.between(2, 1024), 7, "rotated files kept (2 to 1024)"),
        "rotateeverybytes": Setting(s.at_least(1024, s.size), 10 * 1024 * 1024, "rotate at this size"),
        "permissions": Setting(_permissions, 0o600, "file mode of log files, whatever the umask (0600 or \"0600\")"),
        "interval": s.ignored("files rotate by size only"),
        "rotateonstartup": s.ignored("a run appends to the current file"),
        "redirect_stderr": s.ignored("standard error is not redirected"),
    },
}

# Top-level sections of a Beats config with no counterpart here: each loads with one warning naming it.
BEATS_ONLY_SECTIONS: Spec = {
    "cloud": s.ignored("no Elastic Cloud id: set output.elasticsearch.hosts and its credentials"),
    "xpack": s.ignored("no monitoring reporter; the `http` endpoint serves the metrics"),
    "monitoring": s.ignored("no monitoring reporter; the `http` endpoint serves the metrics"),
    "seccomp": s.ignored("no seccomp filter is installed"),
    "instrumentation": s.ignored("no APM instrumentation"),
    "migration": s.ignored("no 6.x field aliases"),
    "keystore": s.ignored("the keystore is packetshipper.keystore in path.config (see `packetshipper keystore`)"),
    "features": s.ignored("no feature flags"),
}

# Packetbeat modules that have no counterpart here: an entry of one of these types is skipped with one
# warning (any other unknown type is still an error: most likely a typing mistake).
PACKETBEAT_ONLY_PROTOCOLS = frozenset({"amqp", "cassandra", "nfs", "sip", "thrift"})

PATH_SETTINGS: Spec = {
    "home": Setting(s.string, ".", "home directory"),
    "config": Setting(s.string, None, "config directory"),
    "data": Setting(s.string, "data", "data directory (disk queue, registry)"),
    "logs": Setting(s.string, "logs", "log directory"),
}


def _top_spec() -> dict[str, Any]:
    from .dispatch import DISPATCH_SETTINGS
    from .monitoring import METRICS_LOG_SETTINGS, MONITORING_SETTINGS
    from .outgoing import OUTGOING_SETTINGS
    from .pipeline import PIPELINE_SECTIONS
    from .report.config import REPORT_SETTINGS
    from .runner import RUN_SETTINGS
    from .setup_commands import SETUP_SETTINGS
    from .workers.config import WORKER_SETTINGS

    spec: dict[str, Any] = {
        "packetshipper": {
            "interfaces": INTERFACE_SETTINGS,
            "flows": {**FLOW_SETTINGS, "processors": FLOW_PROCESSORS},
            "protocols": Setting(_protocol_list, [], "protocol modules: a list of {type, ports, ...}"),
            "ip_fragments": FRAGMENT_SETTINGS,
            "procs": PROCS_SETTINGS,
            "compat": COMPAT_SETTINGS,
            **DISPATCH_SETTINGS,
            **RUN_SETTINGS,
            **OUTGOING_SETTINGS,
            **WORKER_SETTINGS,
        },
        "max_procs": Setting(s.at_least(1), None, "CPUs the process may run on at once (Go's GOMAXPROCS in "
                             "Beats): the process is pinned to that many of the CPUs it may use "
                             "(sched_setaffinity); default: all of them"),
        "name": Setting(s.string, None, "agent name (default: the host name)"),
        "tags": Setting(s.string_list, [], "tags added to every event"),
        "fields": s.any_mapping("custom fields added to every event"),
        "fields_under_root": Setting(s.boolean, False, "put custom fields at the event root"),
        "processors": TOP_PROCESSORS,
        "output": Setting(_output_section, None, "exactly one output: console, file, elasticsearch, logstash, redis"),
        **PIPELINE_SECTIONS,
        "logging": {**LOGGING_SETTINGS, "metrics": METRICS_LOG_SETTINGS},
        "path": PATH_SETTINGS,
        "setup": SETUP_SETTINGS,
        "report": REPORT_SETTINGS,
        "validate_events": Setting(s.boolean, False, "check each event against fields/ before queueing; count violations"),
        **BEATS_ONLY_SECTIONS,
    }
    spec.update(MONITORING_SETTINGS)
    return spec


def _processors_setting(path: str, doc: str) -> Setting:
    """A Beats `processors` list at `path`, validated whole (errors name `path.<n>.<processor>.<key>`)."""

    def convert(value: Any) -> list[Any]:
        from .processors import validate_processors

        return validate_processors(value, path)

    return Setting(convert, [], f"{doc}: a list of {{<processor>: {{<settings>, when: <condition>}}}} "
                   "(drop_event, drop_fields, include_fields, add_fields, add_tags, add_labels, rename, ...)")


TOP_PROCESSORS = _processors_setting("processors", "Beats processors run on every event, after a protocol's "
                                     "or the flows' own")
FLOW_PROCESSORS = _processors_setting("packetshipper.flows.processors", "Beats processors for flow events "
                                      "(and flow rollups), run before the global ones")


def _protocol_list(value: Any) -> list[dict[str, Any]]:
    """Validated by the module registry, which knows each module's keys (see `build_modules`).
    Entries of Packetbeat modules that do not exist here are skipped with a warning."""
    from .registry import available_modules

    if isinstance(value, dict):  # packetbeat 5/6 style: protocols: {http: {ports: [...]}}
        value = [{"type": name, **(cfg or {})} for name, cfg in value.items()]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of protocol entries, got {type(value).__name__}")
    kept = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(f"packetshipper.protocols.{i}", "expected a mapping with a `type` key")
        kind = entry.get("type")
        if kind in PACKETBEAT_ONLY_PROTOCOLS and kind not in available_modules():
            log.warning("packetshipper.protocols.%d (%s): no %s module here; has no effect in packetshipper; "
                        "ignored", i, kind, kind)
            continue
        kept.append(entry)
    return kept


_ALIAS, _OWN = "packetbeat", "packetshipper"
_alias_noted = False


def alias_packetbeat(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` with every `packetbeat.*` key read as `packetshipper.*` (merged with what is there), as a
    packetbeat.yml spells them; the first time any is found, one info line says so."""
    global _alias_noted
    out: dict[str, Any] = {}
    renamed = []
    for key, value in raw.items():
        if isinstance(key, str) and (key == _ALIAS or key.startswith(_ALIAS + ".")):
            renamed.append(key)
            key = _OWN + key[len(_ALIAS):]
        if key in out and isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = s.merge(out[key], value)
        else:
            out[key] = value
    if renamed and not _alias_noted:
        _alias_noted = True
        log.info("packetbeat.* settings are read as packetshipper.* (%s)", ", ".join(renamed))
    return out


def _output_section(value: Any) -> dict[str, dict[str, Any]]:
    from .outputs import OUTPUTS, output_settings

    if not isinstance(value, dict):
        raise ValueError("expected a mapping with one output, e.g. `output.console: {}`")
    enabled: dict[str, dict[str, Any]] = {}
    for name, cfg in value.items():
        path = f"output.{name}"
        if name not in OUTPUTS:
            raise ConfigError(path, f"unknown output (known: {', '.join(sorted(OUTPUTS))})")
        checked = validate(output_settings(name), cfg if cfg is not None else {}, path)
        if checked.get("enabled", True):
            enabled[name] = checked
    if len(enabled) != 1:
        names = ", ".join(sorted(enabled)) or "none"
        raise ConfigError("output", f"exactly one output must be enabled; enabled: {names}")
    return enabled


def validate_config(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        raw = alias_packetbeat(raw)
    config = validate(_top_spec(), raw)
    files = config["logging"]["files"]
    if files["path"] is None:
        files["path"] = config["path"]["logs"]
    if config["output"] is None:
        config["output"] = _output_section({"console": {}})
    from .registry import build_modules

    build_modules(config["packetshipper"]["protocols"])  # raises ConfigError for bad entries
    return config


_ENV = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")


def _expand_env(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """Beats-style `${VAR}` and `${VAR:default}` in the YAML text: the keystore's value first, then the
    environment's, then the default."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if secrets and name in secrets:
            return secrets[name]
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError("", f"environment variable {name} is not set (used as ${{{name}}})")

    return _ENV.sub(replace, text)


# Bounds of the YAML reader: Beats configs nest a dozen levels and rarely use an alias at all.
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 100_000  # scalars, lists and mappings, counting each alias as what it expands to


class _LimitError(yaml.composer.ComposerError):
    """A document over the bounds above: refused even where invalid YAML would be taken as text."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the bounds above checked while composing, before anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def _refuse(self, problem: str) -> yaml.YAMLError:
        return _LimitError(None, None, problem, self.peek_event().start_mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise self._refuse(f"more than {MAX_YAML_ALIASES} aliases (*name)")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise self._refuse(f"nested more than {MAX_YAML_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None and self._aliases:
            _expanded_size(node, {}, set())
        return node


def _expanded_size(node: yaml.Node, seen: dict[int, tuple[int, int]], open_nodes: set[int], depth: int = 1) -> int:
    """Nodes `node` stands for once every alias is expanded; the nesting bound holds after expanding too.

    `seen` keeps (size, height) of each node walked already, so shared nodes are walked once.
    """
    key = id(node)
    if key not in seen:
        if key in open_nodes:
            raise _limit("an alias refers to a list or mapping it is part of", node)
        if depth > MAX_YAML_DEPTH:
            raise _limit(f"aliases nest more than {MAX_YAML_DEPTH} levels deep", node)
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        total, height = 1, 1
        for child in children:
            total += _expanded_size(child, seen, open_nodes, depth + 1)
            height = max(height, 1 + seen[id(child)][1])
        open_nodes.discard(key)
        seen[key] = (total, height)
    total, height = seen[key]
    if depth - 1 + height > MAX_YAML_DEPTH:
        raise _limit(f"aliases nest more than {MAX_YAML_DEPTH} levels deep", node)
    if total > MAX_YAML_NODES:
        raise _limit(f"aliases expand to more than {MAX_YAML_NODES} values", node)
    return total


def _limit(problem: str, node: yaml.Node) -> yaml.YAMLError:
    return _LimitError(None, None, problem, node.start_mark)


def parse_override(text: str, source: str) -> Any:
    """An `-E` value: YAML where it is valid YAML (`true`, `[81]`, `{a: 1}`), else the text itself, as
    Beats does (`%{[agent.version]}`, `a: b: c`). Over the bounds it is an error all the same."""
    if not text:
        return ""
    try:
        return parse_yaml(text, source, as_text=True)
    except _NotYaml:
        return text


class _NotYaml(Exception):
    pass


def parse_yaml(text: str, source: str, *, as_text: bool = False) -> Any:
    """The YAML document in `text`, read within the bounds above; `source` names it in errors."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except _LimitError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("", f"{source}: refused YAML{where}: {exc.problem}") from None
    except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise what they meet (`!!bool x`: KeyError)
        if as_text:
            raise _NotYaml from None
        _invalid(exc, source)


def _invalid(exc: Exception, source: str) -> NoReturn:
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{source}: invalid YAML{where}: {problem}")
    # e.g. the date 2024-02-30, `!!int x`, `!!timestamp x`: PyYAML's constructors raise plain exceptions
    raise ConfigError("", f"{source}: invalid YAML value: {s.quote(str(exc))}")


def read_yaml(path: str, secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The raw config mapping in `path`, with `${VAR}` expanded (from `secrets`, the keystore, first);
    not yet validated."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc}") from None
    raw = parse_yaml(_expand_env(text, secrets), path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{path}: expected a mapping of settings at the top, got {type(raw).__name__}")
    return alias_packetbeat(raw)


def load(path: str) -> dict[str, Any]:
    try:
        return validate_config(read_yaml(path))
    except ConfigError as exc:
        if exc.path:
            raise ConfigError(exc.path, f"{exc.reason} (in {path})") from None
        raise


def every_setting() -> Iterator[tuple[str, Setting]]:
    """Every config key with its Setting and dotted path: the top-level spec, the sections validated
    later (each output's keys, each queue's, each module's under `packetshipper.protocols.<type>`)."""
    from .outputs import OUTPUTS, output_settings
    from .pipeline.config import QUEUE_REFERENCE
    from .protocol import COMMON_SETTINGS
    from .registry import available_modules

    yield from s.iter_settings(_top_spec())
    yield from s.iter_settings(QUEUE_REFERENCE, "queue")
    for name in OUTPUTS:
        yield from s.iter_settings(output_settings(name), f"output.{name}")
    for name, cls in sorted(available_modules().items()):
        yield from s.iter_settings({**COMMON_SETTINGS, **cls.settings}, f"packetshipper.protocols.{name}")


def default_protocols() -> list[dict[str, Any]]:
    """Every built-in module on its default ports, by name: what runs without a config file."""
    from .registry import available_modules

    return [{"type": name} for name in sorted(available_modules())]


def default_config() -> dict[str, Any]:
    """What runs with no config file: flows plus every built-in module on its default ports, to the console."""
    return validate_config({"packetshipper": {"protocols": default_protocols()}, "output": {"console": {}}})
