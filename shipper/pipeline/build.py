"""`build_publisher`: the whole pipeline from the validated config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..compat import identity_of
from ..metrics import Metrics
from ..outputs import output_class
from ..outputs.encoded import EventCodec
from ..settings import ConfigError, validate
from .config import DEAD_LETTER_SETTINGS, VALIDATION_SETTINGS, queue_choice
from .consumer import OutputWorker, RetryPolicy
from .dead_letter import DeadLetterFile
from .publisher import QueuePublisher
from .queue_base import EventQueue
from .queue_disk import DiskQueue, DiskQueueError
from .queue_mem import MemoryQueue
from .validation import EventValidator, ShapeCache, load_schema_validator

__all__ = ["build_publisher", "enabled_output"]


def enabled_output(outputs: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The one output whose settings do not say `enabled: false`."""
    enabled = [(name, dict(cfg or {})) for name, cfg in (outputs or {}).items()
               if (cfg or {}).get("enabled", True)]
    if len(enabled) != 1:
        names = ", ".join(name for name, _ in enabled) or "none"
        raise ConfigError("output", f"exactly one output must be enabled, found {names}")
    return enabled[0]


def build_queue(kind: str, settings: Mapping[str, Any], codec: EventCodec | None = None) -> EventQueue:
    if kind == "disk":
        try:
            return DiskQueue(settings["path"], settings["max_size"], settings["segment_size"],
                             settings["fsync"], settings["fsync_interval"], codec=codec)
        except (DiskQueueError, OSError) as exc:
            raise ConfigError("queue.disk.path", str(exc)) from None
    return MemoryQueue(settings["events"], settings["flush"]["min_events"], settings["flush"]["timeout"])


def build_publisher(config: Mapping[str, Any], metrics: Metrics, *, live: bool) -> QueuePublisher:
    """Queue + output worker + dead-letter file, with their counters registered in `metrics`.

    `live`: a full queue drops the newest event (counted) unless `queue.<type>.blocking`; reading a
    file always waits instead, so nothing is lost. Files default to `path.data` ("data").
    """
    data_dir = str(((config.get("path") or {}).get("data")) or "data")
    kind, queue_settings = queue_choice(config.get("queue"))
    if kind == "disk" and queue_settings["path"] is None:
        queue_settings["path"] = os.path.join(data_dir, "diskqueue")
    name, output_config = enabled_output(config.get("output"))
    dead_settings = validate(DEAD_LETTER_SETTINGS, config.get("dead_letter"), "dead_letter")
    dead_path = dead_settings["path"] or os.path.join(data_dir, "dead_letter.ndjson")
    check_settings = validate(VALIDATION_SETTINGS, config.get("validation"), "validation")

    validator = None
    if check_settings["enabled"] or config.get("validate_events") is True:
        try:
            schema_check = load_schema_validator()
            if check_settings["shapes"]:
                schema_check = ShapeCache(schema_check, check_settings["shapes"])
            validator = EventValidator(schema_check, drop=check_settings["drop"])
        except ImportError as exc:
            raise ConfigError("validation.enabled", f"the fields schemas are not available: {exc}") from None

    output = output_class(name)(output_config)
    output.use_identity(identity_of(config))
    max_retries = output_config.get("max_retries")
    if max_retries is None:
        max_retries = -1 if kind == "disk" else 3
    backoff = output_config.get("backoff") or {}
    policy = RetryPolicy(
        bulk_max_size=int(output_config.get("bulk_max_size") or 2048),
        max_retries=int(max_retries),
        backoff_init=float(backoff.get("init", 1.0)),
        backoff_max=max(float(backoff.get("max", 60.0)), float(backoff.get("init", 1.0))),
    )
    dead_letter = DeadLetterFile(dead_path if dead_settings["enabled"] else None,
                                 dead_settings["max_size"])
    codec = output.codec()  # events are encoded once, at publish, for this output
    queue = build_queue(kind, queue_settings, codec)
    worker = OutputWorker(queue, output, dead_letter, policy)
    publisher = QueuePublisher(queue, output, worker, dead_letter,
                               block=not live or bool(queue_settings["blocking"]), validator=validator,
                               codec=codec)
    metrics.register("queue", queue.stats)
    metrics.register("output", worker.stats)
    if validator is not None:
        metrics.register("validation", validator.stats)
    return publisher
