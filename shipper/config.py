"""Loads and validates `packetshipper.yml`. Keys follow packetbeat.yml wherever one has a counterpart.

`load(path)` reads YAML and returns the validated config; `validate_config(raw)` does the same for a
dict. Every problem is a `ConfigError` naming the dotted key and the reason.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from . import settings as s
from .capture import INTERFACE_SETTINGS
from .decode.fragments import FRAGMENT_DEFAULTS
from .flows import FLOW_SETTINGS
from .settings import ConfigError, Setting, Spec, validate

__all__ = ["load", "read_yaml", "validate_config", "default_config", "ConfigError"]

FRAGMENT_SETTINGS: Spec = {
    "max_datagrams": Setting(s.at_least(1), FRAGMENT_DEFAULTS["max_datagrams"], "IP datagrams being reassembled at once"),
    "max_fragments": Setting(s.at_least(2), FRAGMENT_DEFAULTS["max_fragments"], "fragments per datagram"),
    "max_datagram_bytes": Setting(s.at_least(576, s.size), FRAGMENT_DEFAULTS["max_datagram_bytes"],
                                  "largest reassembled datagram; bigger ones are dropped and counted"),
    "timeout": Setting(s.at_least(0.1, s.duration), FRAGMENT_DEFAULTS["timeout"], "give up on a datagram after this"),
}

LOGGING_SETTINGS: Spec = {
    "level": Setting(s.one_of("debug", "info", "warning", "error"), "info", "log level"),
    "to_stderr": Setting(s.boolean, False, "log to stderr (`-e` sets it)"),
    "to_files": Setting(s.boolean, False, "log to rotating files under `files.path`"),
    "selectors": Setting(s.string_list, [], "debug selectors (`-d`), e.g. tcp, http, publisher, or *"),
    "debug_rate_limit": Setting(s.at_least(0), 100, "debug lines each selector may write per second; more are "
                                "counted and reported in one `suppressed N debug lines` line (0: no limit)"),
    "json": Setting(s.boolean, False, "log lines as JSON"),
    "files": {
        "path": Setting(s.string, None, "log directory (default: path.logs)"),
        "name": Setting(s.string, "packetshipper", "log file name"),
        "keepfiles": Setting(s.at_least(2), 7, "rotated files kept"),
        "rotateeverybytes": Setting(s.at_least(1024, s.size), 10 * 1024 * 1024, "rotate at this size"),
        "permissions": Setting(s.integer, 0o600, "file mode of log files"),
    },
}

PATH_SETTINGS: Spec = {
    "home": Setting(s.string, ".", "home directory"),
    "config": Setting(s.string, None, "config directory"),
    "data": Setting(s.string, "data", "data directory (disk queue, registry)"),
    "logs": Setting(s.string, "logs", "log directory"),
}


def _top_spec() -> dict[str, Any]:
    from .dispatch import DISPATCH_SETTINGS
    from .monitoring import METRICS_LOG_SETTINGS, MONITORING_SETTINGS
    from .pipeline import PIPELINE_SECTIONS

    spec: dict[str, Any] = {
        "packetshipper": {
            "interfaces": INTERFACE_SETTINGS,
            "flows": FLOW_SETTINGS,
            "protocols": Setting(_protocol_list, [], "protocol modules: a list of {type, ports, ...}"),
            "ip_fragments": FRAGMENT_SETTINGS,
            **DISPATCH_SETTINGS,
            "ignore_outgoing": Setting(s.boolean, False, "accepted for packetbeat.yml compatibility; no effect"),
        },
        "name": Setting(s.string, None, "agent name (default: the host name)"),
        "tags": Setting(s.string_list, [], "tags added to every event"),
        "fields": s.any_mapping("custom fields added to every event"),
        "fields_under_root": Setting(s.boolean, False, "put custom fields at the event root"),
        "output": Setting(_output_section, None, "exactly one output: console, file, elasticsearch, logstash, redis"),
        **PIPELINE_SECTIONS,
        "logging": {**LOGGING_SETTINGS, "metrics": METRICS_LOG_SETTINGS},
        "path": PATH_SETTINGS,
        "setup": s.any_mapping("index template settings (`setup.template.*`, `setup.ilm.*`)"),
        "validate_events": Setting(s.boolean, False, "check each event against fields/ before queueing; count violations"),
    }
    spec.update(MONITORING_SETTINGS)
    return spec


def _protocol_list(value: Any) -> list[dict[str, Any]]:
    """Validated by the module registry, which knows each module's keys (see `build_modules`)."""
    if isinstance(value, dict):  # packetbeat 5/6 style: protocols: {http: {ports: [...]}}
        value = [{"type": name, **(cfg or {})} for name, cfg in value.items()]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of protocol entries, got {type(value).__name__}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(f"packetshipper.protocols.{i}", "expected a mapping with a `type` key")
    return value


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


def _expand_env(text: str) -> str:
    """Beats-style `${VAR}` and `${VAR:default}` in the YAML text."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError("", f"environment variable {name} is not set (used as ${{{name}}})")

    return _ENV.sub(replace, text)


def read_yaml(path: str) -> dict[str, Any]:
    """The raw config mapping in `path`, with `${VAR}` expanded; not yet validated."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc}") from None
    try:
        raw = yaml.safe_load(_expand_env(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{path}: invalid YAML{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{path}: expected a mapping of settings at the top, got {type(raw).__name__}")
    return raw


def load(path: str) -> dict[str, Any]:
    try:
        return validate_config(read_yaml(path))
    except ConfigError as exc:
        if exc.path:
            raise ConfigError(exc.path, f"{exc.reason} (in {path})") from None
        raise


def default_config() -> dict[str, Any]:
    """What runs with no config file: flows plus every built-in module on its default ports, to the console."""
    from .registry import available_modules

    protocols = [{"type": name} for name in sorted(available_modules())]
    return validate_config({"packetshipper": {"protocols": protocols}, "output": {"console": {}}})
