"""Finds protocol modules and builds the enabled ones from `packetshipper.protocols`.

Built-in modules are the subpackages of `packetshipper.modules` that export `MODULE`; third-party
modules register a `ProtocolModule` subclass under the entry-point group `packetshipper.modules`
(`name = "package.module:ModuleClass"`) and are then enabled by config alone, like built-ins.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Mapping
from typing import Any

from .protocol import COMMON_SETTINGS, ProtocolModule
from .settings import ConfigError, validate

__all__ = ["ENTRY_POINT_GROUP", "available_modules", "load_errors", "build_modules", "list_modules_table"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "packetshipper.modules"
NOT_PROTOCOLS = frozenset({"flows", "flow_aggregate"})  # subpackages of packetshipper.modules that are not protocols
PROTOCOLS_PATH = "packetshipper.protocols"

_load_errors: dict[str, str] = {}


@functools.cache
def available_modules() -> dict[str, type[ProtocolModule]]:
    """Module name -> class, built-ins first. Call `available_modules.cache_clear()` to rescan."""
    _load_errors.clear()
    found: dict[str, type[ProtocolModule]] = {}
    for name, load in _candidates():
        cls = _usable(name, load)
        if cls is None:
            continue
        if name in found:
            log.warning("protocol module %s from %s ignored: the name is taken", name, cls.__module__)
        else:
            found[name] = cls
    return found


def module_class(kind: str) -> type[ProtocolModule] | None:
    """The class of module `kind`, importing only it when it is a built-in (not every module, nor the
    installed distributions' entry points, as `available_modules` does): a run imports the modules its
    config names. The same choice as `available_modules`: built-ins first, then plugins."""
    if available_modules.cache_info().currsize:
        return available_modules().get(kind)
    if kind.isidentifier() and kind not in NOT_PROTOCOLS and not kind.startswith("_"):
        qualified = f"packetshipper.modules.{kind}"
        if importlib.util.find_spec(qualified) is not None:
            cls = _usable(kind, functools.partial(_builtin_module, qualified))
            if cls is not None:
                return cls
    return available_modules().get(kind)


def _usable(name: str, load: Any) -> type[ProtocolModule] | None:
    """`load()`'s class if it is a valid module named `name`; else None, with the reason logged and kept."""
    try:
        cls = load()
    except Exception as exc:  # a broken module must not take the others down
        _load_errors[name] = f"cannot be loaded: {exc!r}"
        log.warning("protocol module %s cannot be loaded: %r", name, exc)
        return None
    problem = _problem(name, cls)
    if problem:
        _load_errors[name] = problem
        log.warning("protocol module %s skipped: %s", name, problem)
        return None
    return cls  # type: ignore[no-any-return]


def load_errors() -> dict[str, str]:
    """Modules that were found but could not be used, and why (filled by `available_modules`)."""
    available_modules()
    return dict(_load_errors)


def _candidates() -> list[tuple[str, Any]]:
    from importlib import metadata  # 8 ms to import: only listings and plugin lookups need it

    import packetshipper.modules as builtin

    out: list[tuple[str, Any]] = []
    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda i: i.name):
        if info.ispkg and info.name not in NOT_PROTOCOLS and not info.name.startswith("_"):
            qualified = f"{builtin.__name__}.{info.name}"
            out.append((info.name, functools.partial(_builtin_module, qualified)))
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        out.append((ep.name, ep.load))
    return out


def _builtin_module(qualified: str) -> Any:
    module = importlib.import_module(qualified)
    if not hasattr(module, "MODULE"):
        raise ImportError(f"{qualified} does not export MODULE")
    return module.MODULE


def _problem(name: str, cls: Any) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, ProtocolModule)):
        return f"{cls!r} is not a ProtocolModule subclass"
    if getattr(cls, "name", None) != name:
        return f"its class says name={getattr(cls, 'name', None)!r}, registered as {name!r}"
    transports = getattr(cls, "transports", None)
    if not transports or not set(transports) <= {"tcp", "udp", "icmp"}:
        return f"transports must be a non-empty subset of tcp, udp, icmp; got {transports!r}"
    return None


def _entries(protocols: Any) -> list[tuple[str, type[ProtocolModule], dict[str, Any]]]:
    """Validate every entry: (path, class, validated config), disabled ones included."""
    if protocols is None:
        return []
    if not isinstance(protocols, list):
        raise ConfigError(PROTOCOLS_PATH, f"expected a list of protocols, got {type(protocols).__name__}")
    out = []
    for i, raw in enumerate(protocols):
        path = f"{PROTOCOLS_PATH}.{i}"
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected a mapping with a `type`, got {type(raw).__name__}")
        kind = raw.get("type")
        if kind is None:
            raise ConfigError(f"{path}.type", "required setting is missing")
        cls = module_class(kind) if isinstance(kind, str) else None
        if cls is None:
            known = available_modules()  # only to name them in the error
            why = _load_errors.get(kind, "unknown protocol type") if isinstance(kind, str) else "unknown protocol type"
            raise ConfigError(f"{path}.type", f"{why}: {kind!r} (known: {', '.join(sorted(known)) or 'none'})")
        config = validate({**COMMON_SETTINGS, **cls.settings}, raw, path)
        if config.get("processors"):
            from .processors import validate_processors

            config["processors"] = validate_processors(config["processors"], f"{path}.processors")
        out.append((path, cls, config))
    return out


def build_modules(protocols: list[Any]) -> list[ProtocolModule]:
    """The enabled modules, configured. Raises `ConfigError` naming the offending key."""
    modules: list[ProtocolModule] = []
    owners: dict[tuple[str, int], str] = {}
    for path, cls, config in _entries(protocols):
        if not config["enabled"]:
            continue
        module = cls(config)
        for transport in sorted(cls.transports & {"tcp", "udp"}):
            for port in module.ports:
                other = owners.setdefault((transport, port), path)
                if other != path:
                    raise ConfigError(f"{path}.ports", f"{transport} port {port} is already used by {other}")
        modules.append(module)
    return modules


def list_modules_table(protocols: list[Any]) -> str:
    """The text of `packetshipper modules`: every module known, and how the config sets it up."""
    configured: dict[str, list[dict[str, Any]]] = {}
    for _path, cls, config in _entries(protocols):
        configured.setdefault(cls.name, []).append(config)
    rows = [("MODULE", "TRANSPORTS", "DEFAULT PORTS", "ENABLED", "PORTS")]
    for name, cls in sorted(available_modules().items()):
        entries = configured.get(name, [])
        enabled = [c for c in entries if c["enabled"]]
        ports = sorted({p for c in enabled for p in (c["ports"] or cls.default_ports)})
        rows.append((
            name,
            ",".join(sorted(cls.transports)),
            _ports(cls.default_ports),
            "yes" if enabled else "no",
            _ports(ports) if enabled else "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for name, why in sorted(_load_errors.items()):
        lines.append(f"(skipped {name}: {why})")
    return "\n".join(lines) + "\n"


def _ports(ports: Any) -> str:
    return ",".join(str(p) for p in ports) or "-"
