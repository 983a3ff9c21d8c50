"""Logging set-up: stderr or rotating files, a level, and Beats-style debug selectors (`-d tcp,http`)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from . import debuglog
from .settings import ConfigError

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
        path = os.path.join(files.get("path", "logs"), files.get("name", "packetshipper"))
        try:
            os.makedirs(files.get("path", "logs"), exist_ok=True)
            handler: logging.Handler = _rotating_file_handler(
                path, maxBytes=files.get("rotateeverybytes", 10 * 1024 * 1024),
                backupCount=files.get("keepfiles", 7) - 1, permissions=files.get("permissions", 0o600))
        except OSError as exc:
            raise ConfigError("logging.files.path", f"cannot open the log file {path}: {exc.strerror or exc}") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    if names and "*" not in names:
        handler.addFilter(_SelectorFilter(set(names), level))
    root.addHandler(handler)
    root.propagate = False


def _rotating_file_handler(filename: str, *, maxBytes: int, backupCount: int,  # noqa: N803
                           permissions: int) -> logging.Handler:
    """A RotatingFileHandler every log file of which (the first and each one after a rotation) gets
    exactly `permissions`, whatever the umask and whatever mode an existing file had: logs can hold
    addresses and queries. logging.handlers is imported here, for a run that logs to files."""
    import logging.handlers

    class ModeRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def _open(self) -> Any:
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, permissions)
            try:
                os.fchmod(fd, permissions)
            except OSError:
                os.close(fd)
                raise
            return open(fd, "a", encoding=self.encoding, errors=self.errors)

    return ModeRotatingFileHandler(filename, maxBytes=maxBytes, backupCount=backupCount, encoding="utf-8")


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
