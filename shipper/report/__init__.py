"""`packetshipper report`: a readable picture of a capture, as a self-contained HTML page and as JSON.

The figures are folded from the very events the shipper produces with the given config (aggregate.py),
collected by `make_report` (build.py) and drawn by `render_html` (render.py, which needs the optional
`report` extra: matplotlib).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Limits", "make_report", "render_html", "ReportDependencyError"]

# Imported when first used: the CLI imports `report.command` for its arguments on every start.
_LAZY = {"Limits": ".aggregate", "make_report": ".build", "render_html": ".render",
         "ReportDependencyError": ".render"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
