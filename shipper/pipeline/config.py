"""Config keys of the pipeline: `queue.mem` / `queue.disk`, `dead_letter`, `validation`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import ConfigError, Setting, Spec, validate
from .queue_disk import FSYNC_POLICIES

__all__ = [
    "MEM_QUEUE_SETTINGS",
    "DISK_QUEUE_SETTINGS",
    "QUEUE_REFERENCE",
    "PIPELINE_SETTINGS",
    "DEAD_LETTER_SETTINGS",
    "VALIDATION_SETTINGS",
    "queue_choice",
]

# Beats 8 defaults for the memory queue.
MEM_QUEUE_SETTINGS: Spec = {
    "events": Setting(s.at_least(1), 3200, "events the queue holds, in flight ones included"),
    "flush": {
        "min_events": Setting(s.at_least(0), 1600, "a batch goes to the output as soon as this many events "
                              "wait (0 or 1: at once); only makes batches larger under heavy traffic"),
        "timeout": Setting(s.at_least(0, s.duration), 10.0, "the longest a partial batch waits: every event "
                           "reaches the output within this of being queued, whatever the rate (0s: at once)"),
    },
    "blocking": Setting(s.boolean, False, "live capture: wait when full instead of dropping the newest"),
}

DISK_QUEUE_SETTINGS: Spec = {
    "path": Setting(s.string, None, "directory of the segment files; default ${path.data}/diskqueue; events "
                     "unsent at exit stay there and are sent by the next run"),
    "max_size": Setting(s.at_least(1024 * 1024, s.size), 10 * 1024**3, "most bytes of unacknowledged events on "
                         "disk; when full, live capture drops the newest (counted) and a file replay waits"),
    "segment_size": Setting(s.at_least(64 * 1024, s.size), None, "bytes per segment file (default max_size/10, "
                             "at least 64KiB); a segment is deleted once all its events are acknowledged"),
    "fsync": Setting(s.one_of(*FSYNC_POLICIES), "interval", "when to fsync segments and the ack state "
                      "(always, interval, never); a queued event survives kill -9 in every case"),
    "fsync_interval": Setting(s.at_least(0, s.duration), 1.0, "with fsync: interval, the most time between fsyncs"),
    "blocking": Setting(s.boolean, False, "live capture: wait when full instead of dropping the newest"),
}
# No flush keys: the disk queue hands each event to the output as soon as the output is free (batches
# grow by themselves under load), as Beats' disk queue does.

# For packetshipper.reference.yml: `mem` and `disk` are validated as whole sections (see below), so the
# reference lists their keys from here.
QUEUE_REFERENCE: Spec = {"mem": MEM_QUEUE_SETTINGS, "disk": DISK_QUEUE_SETTINGS}


def _section(spec: Spec, path: str) -> Any:
    def convert(value: Any) -> dict[str, Any]:
        return validate(spec, value, path)

    return convert


# `mem` and `disk` stay None unless configured, so that configuring both can be told apart.
PIPELINE_SETTINGS: Spec = {
    "mem": Setting(_section(MEM_QUEUE_SETTINGS, "queue.mem"), None, "in-memory queue (the default)"),
    "disk": Setting(_section(DISK_QUEUE_SETTINGS, "queue.disk"), None, "disk queue (at least once)"),
}

DEAD_LETTER_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, True, "write events given up on to the dead-letter file"),
    "path": Setting(s.string, None, "the dead-letter file (ndjson); default ${path.data}/dead_letter.ndjson"),
    "max_size": Setting(s.at_least(1, s.size), 100 * 1024**2, "stop writing (and count) past this size"),
}

VALIDATION_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, False, "check each event against the fields/ schemas (or top-level validate_events)"),
    "drop": Setting(s.boolean, False, "drop events with violations instead of only counting them"),
    "shapes": Setting(s.at_least(0), 10000, "distinct event shapes (nested keys, value types) remembered as "
                      "valid, so later events of a shape are not checked again (0: check every event)"),
}


def queue_choice(queue: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """("mem" or "disk", its validated settings) from a `queue` section validated by PIPELINE_SETTINGS."""
    queue = queue or {}
    mem, disk = queue.get("mem"), queue.get("disk")
    if mem is not None and disk is not None:
        raise ConfigError("queue", "configure either queue.mem or queue.disk, not both")
    if disk is not None:
        settings = dict(disk)
        if settings["segment_size"] is None:
            settings["segment_size"] = max(64 * 1024, settings["max_size"] // 10)
        if settings["segment_size"] > settings["max_size"]:
            raise ConfigError("queue.disk.segment_size", "must not be larger than queue.disk.max_size")
        return "disk", settings
    return "mem", mem if mem is not None else validate(MEM_QUEUE_SETTINGS, {}, "queue.mem")
