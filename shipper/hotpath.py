"""Loads the compiled hot path (`packetshipper._hotpath`, built from `_hotpath.pyx` by `pip install`).

Without it (no C compiler or Python headers at install time, a failed build) or with the environment
variable PACKETSHIPPER_PURE_PYTHON=1, the pure-Python reference runs instead; `log_choice()` says so in
one line at startup. Tests flip `enabled` to run both paths in one process.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

__all__ = ["compiled", "enabled", "log_choice", "why_pure"]

LOG = logging.getLogger("packetshipper")

_ASKED = "PACKETSHIPPER_PURE_PYTHON is set"
compiled: ModuleType | None
why_pure: str | None
if os.environ.get("PACKETSHIPPER_PURE_PYTHON", "") not in ("", "0"):
    compiled, why_pure = None, _ASKED
else:
    try:
        compiled, why_pure = importlib.import_module(f"{__package__}._hotpath"), None
    except ImportError as error:
        compiled, why_pure = None, f"the compiled extension is not installed ({error})"

enabled: bool = compiled is not None
_told = False


def log_choice() -> None:
    """One line, once per process, when the pure-Python path runs (nothing when the compiled one does)."""
    global _told
    if why_pure is not None and not _told:
        _told = True
        # Asked for (the environment variable): an info line; a missing build is worth a warning.
        level = logging.WARNING if compiled is None and why_pure != _ASKED else logging.INFO
        LOG.log(level, "packets take the pure-Python path (slower): %s", why_pure)
