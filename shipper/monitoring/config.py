"""Config keys of monitoring: the `http` endpoint and the `logging.metrics` periodic line (Beats names)."""

from __future__ import annotations

from .. import settings as s
from ..settings import Setting, Spec

__all__ = ["HTTP_SETTINGS", "METRICS_LOG_SETTINGS", "MONITORING_SETTINGS"]


def _port(value: object) -> int:
    port = s.at_least(0)(value)
    if port > 65535:
        raise ValueError(f"expected a port from 0 to 65535, got {value!r}")
    return int(port)


HTTP_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, False, "serve / and /stats over HTTP"),
    "host": Setting(s.string, "127.0.0.1", "address to listen on"),
    "port": Setting(_port, 5066, "port to listen on (0: any free port)"),
}

METRICS_LOG_SETTINGS: Spec = {
    "enabled": Setting(s.boolean, True, "log the counters that changed, periodically"),
    "period": Setting(s.at_least(0.001, s.duration), 30.0, "how often"),
}

# The top-level sections monitoring owns. `logging.metrics` (METRICS_LOG_SETTINGS) lives inside the
# `logging` section, which holds other keys too, so it is not listed here; Monitor reads it from there.
MONITORING_SETTINGS: Spec = {
    "http": HTTP_SETTINGS,
}
