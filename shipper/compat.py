"""`packetshipper.compat.packetbeat: "8.15.0"`: look like that Packetbeat to everything downstream.

Logstash pipelines branch on `@metadata.beat`, index patterns and dashboards expect `packetbeat-*`
indices and templates, and some rules filter on `agent.type`. With the setting, those names are the ones
that Packetbeat version uses, on every output and in the template and lifecycle policy that `setup`
installs; without it nothing changes. Each event's own `agent.version` stays packetshipper's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .settings import Setting, Spec, quote
from .version import __version__

__all__ = ["COMPAT_SETTINGS", "Identity", "DEFAULT_IDENTITY", "identity_of"]

_BEATS_8 = re.compile(r"^8\.\d{1,3}\.\d{1,3}$")


def _packetbeat_version(value: Any) -> str:
    text = str(value).strip()
    if not _BEATS_8.match(text):
        raise ValueError(f"expected a Packetbeat 8 version such as 8.15.0, got {quote(value)}")
    return text


COMPAT_SETTINGS: Spec = {
    "packetbeat": Setting(_packetbeat_version, None, "a Packetbeat 8 version (e.g. \"8.15.0\"): agent.type, "
                          "@metadata.beat/version, the default index, template and lifecycle policy names are "
                          "that Packetbeat's"),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the events say they come from."""

    beat: str  # @metadata.beat, agent.type, and the root of index, template and policy names
    version: str  # @metadata.version
    compat: bool = False

    @property
    def default_index(self) -> str:
        """The default index (or data stream) name, a format string."""
        return f"{self.beat}-{self.version}" if self.compat else f"{self.beat}-%{{[agent.version]}}"

    @property
    def policy_name(self) -> str:
        return self.beat


DEFAULT_IDENTITY = Identity("packetshipper", __version__)


def identity_of(config: Mapping[str, Any]) -> Identity:
    """The identity a validated config asks for."""
    compat = ((config.get("packetshipper") or {}).get("compat") or {}).get("packetbeat")
    return Identity("packetbeat", compat, True) if compat else DEFAULT_IDENTITY
