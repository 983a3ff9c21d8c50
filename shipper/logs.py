"""Logging set-up: stderr or rotating files, a level, and Beats-style debug selectors (`-d tcp,http`)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from typing import Any

from . import debuglog

__all__ = ["setup_logging"]

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(config: dict[str, Any] | None = None, *, to_stderr: bool = False,
                  selectors: str | None = None) -> None:
    """Configure the `packetshipper` logger tree. Calling it again replaces the previous set-up."""
    config = config or {}
    root = logging.getLogger("packetshipper")
    for previous in list(root.handlers):
        root.removeHandler(previous)
        previous.close()
    names = [name.strip() for name in (selectors or "").split(",") if name.strip()]
    names += list(config.get("selectors") or [])
    level = logging.getLevelName(str(config.get("level", "info")).upper())
    root.setLevel(logging.DEBUG if names else level)
    debuglog.configure(names, level_is_debug=level == logging.DEBUG, rate_limit=config.get("debug_rate_limit"))
    files = config.get("files") or {}
    if config.get("to_files") and not to_stderr:
        os.makedirs(files.get("path", "logs"), exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            os.path.join(files.get("path", "logs"), files.get("name", "packetshipper")),
            maxBytes=files.get("rotateeverybytes", 10 * 1024 * 1024), backupCount=files.get("keepfiles", 7) - 1)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    if names and "*" not in names:
        handler.addFilter(_SelectorFilter(set(names), level))
    root.addHandler(handler)
    root.propagate = False


class _SelectorFilter(logging.Filter):
    """Debug records pass only for the selected sub-loggers (`packetshipper.<selector>...`)."""

    def __init__(self, selectors: set[str], level: int) -> None:
        super().__init__()
        self.selectors = selectors
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.level:
            return True
        parts = record.name.split(".")
        return any(part in self.selectors for part in parts[1:])
