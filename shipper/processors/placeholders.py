"""Processors packetshipper accepts but does not have yet: one warning each, then they pass events on.

They are in Packetbeat's stock packetbeat.yml (add_cloud_metadata, add_docker_metadata, detect_mime_type)
or common in Beats deployments; refusing them would refuse the user's whole config.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .base import Event, Processor

__all__ = ["PLACEHOLDERS", "placeholder"]

log = logging.getLogger("packetshipper.processors")

PLACEHOLDERS = ("add_cloud_metadata", "add_docker_metadata", "add_kubernetes_metadata", "detect_mime_type")
_warned: set[str] = set()


def _anything(value: Any) -> Any:
    return value


def placeholder(processor: str) -> type[Processor]:
    class Placeholder(Processor):
        name = processor
        def __init__(self, config: Mapping[str, Any], path: str) -> None:
            super().__init__(config, path)
            if processor not in _warned:  # once per process, however often the config is checked
                _warned.add(processor)
                log.warning("%s: the %s processor is not available in packetshipper yet; events pass it "
                            "unchanged", path, processor)

        def run(self, event: Event) -> Event | None:
            return event

    Placeholder.__name__ = Placeholder.__qualname__ = f"Placeholder_{processor}"
    return Placeholder
