"""libbeat's layout of the monitoring numbers, so that what reads a Beat's `/stats` and `/state` (Metricbeat's
beat module, Stack Monitoring, scripts) finds its keys: `libbeat.pipeline.*`, `libbeat.output.*`, `beat.*`,
`system.*`, computed from our own `queue` and `output` sections, which `/stats` keeps beside them."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["BeatProcess", "libbeat_sections", "state"]


class BeatProcess:
    """What `beat.info` says of this process: its ephemeral id (new each start) and when it started."""

    def __init__(self) -> None:
        self.ephemeral_id = str(uuid.uuid4())
        self.started = time.monotonic()

    def uptime_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def _get(tree: Mapping[str, Any], path: str) -> int:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return 0
        node = node[part]
    return node if isinstance(node, int) and not isinstance(node, bool) else 0


def libbeat_sections(snapshot: Mapping[str, Any], info: Mapping[str, Any], process: BeatProcess) -> dict[str, Any]:
    """`libbeat`, `beat` and `system` as libbeat lays them out, from our snapshot (`queue`, `output`)."""
    queue_dropped = snapshot.get("queue", {}).get("dropped", {})
    dropped = sum(v for v in queue_dropped.values() if isinstance(v, int)) if isinstance(queue_dropped, Mapping) else 0
    added = _get(snapshot, "queue.added")
    output_dropped = _get(snapshot, "output.events.given_up") + _get(snapshot, "output.events.rejected")
    libbeat = {
        "output": {
            "type": snapshot.get("output", {}).get("type", ""),
            "events": {
                "total": _get(snapshot, "output.events.total"),
                "acked": _get(snapshot, "output.events.acked"),
                "failed": _get(snapshot, "output.events.failed"),
                "dropped": output_dropped,
                "duplicates": _get(snapshot, "output.events.duplicates"),
                "active": _get(snapshot, "queue.in_flight"),
                "batches": _get(snapshot, "output.batches.total"),
                "toomany": 0,
            },
            "write": {"bytes": _get(snapshot, "output.write.bytes"), "errors": _get(snapshot, "output.write.errors")},
            "read": {"bytes": 0, "errors": _get(snapshot, "output.read.errors")},
        },
        "pipeline": {
            "clients": 1,
            "events": {
                "total": added + dropped,
                "published": added,
                "active": _get(snapshot, "queue.events"),
                "dropped": dropped,
                "failed": 0,
                "filtered": 0,
                "retry": _get(snapshot, "output.events.retried"),
            },
            "queue": {"acked": _get(snapshot, "queue.acked"), "max_events": _get(snapshot, "queue.max_events")},
        },
    }
    times = os.times()
    cpu_ms = {"user": int(times.user * 1000), "system": int(times.system * 1000)}
    beat = {
        "info": {"ephemeral_id": process.ephemeral_id, "name": info.get("beat", "packetshipper"),
                 "version": info.get("version", ""), "uptime": {"ms": process.uptime_ms()}},
        "cpu": {"user": {"time": {"ms": cpu_ms["user"]}}, "system": {"time": {"ms": cpu_ms["system"]}},
                "total": {"time": {"ms": cpu_ms["user"] + cpu_ms["system"]}}},
        "memstats": {"rss": _rss_bytes()},
        "runtime": {"goroutines": threading.active_count()},  # libbeat's name; here: Python threads
        "handles": {"open": _open_files()},
    }
    cores = os.cpu_count() or 1
    load1, load5, load15 = os.getloadavg()
    system = {"cpu": {"cores": cores},
              "load": {"1": load1, "5": load5, "15": load15,
                       "norm": {"1": load1 / cores, "5": load5 / cores, "15": load15 / cores}}}
    return {"libbeat": libbeat, "beat": beat, "system": system}


def state(config: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """`/state`, as libbeat's: who runs, which output and queue, which modules."""
    outputs = config.get("output") or {}
    from ..pipeline.config import queue_choice

    try:
        queue_name = queue_choice(config.get("queue"))[0]
    except Exception:  # noqa: BLE001 - a state page never fails over a queue section it cannot read
        queue_name = "mem"
    protocols = ((config.get("packetshipper") or {}).get("protocols")) or []
    names = sorted({entry["type"] for entry in protocols
                    if isinstance(entry, Mapping) and isinstance(entry.get("type"), str) and entry.get("enabled", True)})
    return {
        "beat": {"name": info.get("name", "")},
        "host": {"hostname": info.get("hostname", "")},
        "service": {"id": info.get("uuid", ""), "name": info.get("beat", "packetshipper"),
                    "version": info.get("version", "")},
        "output": {"name": next(iter(outputs), "")},
        "queue": {"name": queue_name},
        "module": {"count": len(names), "names": names},
        "management": {"enabled": False},
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
