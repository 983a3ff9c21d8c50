"""The output registry: every output by name, imported only when it is used.

A missing or broken output module therefore breaks only a config that asks for it.
"""

from __future__ import annotations

import importlib

from .. import settings as s
from ..settings import ConfigError, Setting, Spec
from .base import BatchResult, Output, OutputError

__all__ = ["OUTPUTS", "COMMON_OUTPUT_SETTINGS", "output_class", "output_settings", "Output", "OutputError",
           "BatchResult"]

OUTPUTS: dict[str, str] = {
    "console": "packetshipper.outputs.console:ConsoleOutput",
    "file": "packetshipper.outputs.file:FileOutput",
    "elasticsearch": "packetshipper.outputs.elasticsearch:ElasticsearchOutput",
    "logstash": "packetshipper.outputs.logstash:LogstashOutput",
    "redis": "packetshipper.outputs.redis:RedisOutput",
    "kafka": "packetshipper.outputs.kafka:KafkaOutput",
}

# Keys every `output.<name>` accepts; an output's own `settings` may override a default (bulk_max_size).
COMMON_OUTPUT_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, True, "use this output"),
    "bulk_max_size": Setting(s.at_least(1), 2048, "most events per batch"),
    "max_retries": Setting(s.at_least(-1), None,
                           "retries before events are dead-lettered; -1 forever; default 3, forever with queue.disk"),
    "backoff": {
        "init": Setting(s.at_least(0.001, s.duration), 1.0, "first wait after a failure"),
        "max": Setting(s.at_least(0.001, s.duration), 60.0, "longest wait between attempts"),
    },
}


def output_class(name: str) -> type[Output]:
    target = OUTPUTS.get(name)
    if target is None:
        raise ConfigError("output", f"unknown output {name!r} (known: {', '.join(sorted(OUTPUTS))})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls: type[Output] = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"output.{name}", f"output is not available: {exc}") from None
    return cls


def output_settings(name: str) -> Spec:
    return {**COMMON_OUTPUT_SETTINGS, **output_class(name).settings}
