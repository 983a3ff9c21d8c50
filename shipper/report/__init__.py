"""`packetshipper report`: a readable picture of a capture, as a self-contained HTML page and as JSON.

The figures are folded from the very events the shipper produces with the given config (aggregate.py),
collected by `make_report` (build.py) and drawn by `render_html` (render.py, which needs the optional
`report` extra: matplotlib).
"""

from __future__ import annotations

from .aggregate import Limits
from .build import make_report
from .render import ReportDependencyError, render_html

__all__ = ["Limits", "make_report", "render_html", "ReportDependencyError"]
