"""Monitoring: the periodic metrics log line and the optional HTTP endpoint (`/`, `/stats`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..metrics import Metrics
from ..settings import ConfigError, validate
from .config import HTTP_SETTINGS, METRICS_LOG_SETTINGS, MONITORING_SETTINGS
from .libbeat import BeatProcess, libbeat_sections, state
from .metrics_log import MetricsLogger, changed_metrics, flatten

if TYPE_CHECKING:
    from .http_endpoint import StatsServer

__all__ = ["Monitor", "MONITORING_SETTINGS", "HTTP_SETTINGS", "METRICS_LOG_SETTINGS",
           "MetricsLogger", "changed_metrics", "flatten"]

log = logging.getLogger(__name__)


class Monitor:
    """Runs what `settings` turns on: `settings["http"]` (HTTP_SETTINGS) and `settings["logging"]["metrics"]`
    (METRICS_LOG_SETTINGS); the whole validated config will do. `/` serves `info` ({beat, name,
    hostname, version, uuid}), `/stats` serves `metrics.snapshot()` with libbeat's sections beside it, and
    `/state` what runs (output, queue, modules)."""

    def __init__(self, metrics: Metrics, settings: Mapping[str, Any] | None, info: Mapping[str, Any]) -> None:
        settings = settings or {}
        self.metrics = metrics
        self.info = dict(info)
        # only our keys are looked at, so `logging` may also carry the lead's own (level, files, ...)
        self.http_settings = validate(HTTP_SETTINGS, settings.get("http"), "http")
        self.log_settings = validate(METRICS_LOG_SETTINGS, (settings.get("logging") or {}).get("metrics"),
                                     "logging.metrics")
        self.config = settings
        self.process = BeatProcess()
        self.server: StatsServer | None = None
        self.metrics_logger: MetricsLogger | None = None

    def stats(self) -> dict[str, Any]:
        """`/stats`: our sections, with libbeat's (`libbeat`, `beat`, `system`) beside them."""
        snapshot = dict(self.metrics.snapshot())
        return {**snapshot, **libbeat_sections(snapshot, self.info, self.process)}

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the HTTP endpoint listens (the real port when configured with 0)."""
        return self.server.address if self.server else None

    def start(self) -> None:
        if self.http_settings["enabled"]:
            from .http_endpoint import StatsServer  # http.server: imported only when the endpoint is on

            host, port = self.http_settings["host"], self.http_settings["port"]
            try:
                self.server = StatsServer(host, port, self.info, self.stats, lambda: state(self.config, self.info))
            except OSError as exc:
                raise ConfigError("http", f"cannot listen on {host}:{port}: {exc}") from None
            self.server.start()
            log.info("monitoring endpoint on http://%s:%d", *self.server.address)
        if self.log_settings["enabled"]:
            self.metrics_logger = MetricsLogger(self.metrics.snapshot, self.log_settings["period"])
            self.metrics_logger.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.metrics_logger is not None:
            self.metrics_logger.stop()
            self.metrics_logger = None
