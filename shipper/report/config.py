"""Config keys of `packetshipper report`: the bounds of its tables."""

from __future__ import annotations

from .. import settings as s
from ..settings import Setting, Spec

__all__ = ["REPORT_SETTINGS"]

REPORT_SETTINGS: Spec = {
    "max_keys": Setting(s.between(10, 10_000_000), 100_000, "keys each report table holds (talkers, services, "
                        "names, ...); later keys are summed into an (other) row and counted"),
    "max_samples": Setting(s.between(100, 10_000_000), 100_000, "response times kept per service for the "
                           "percentiles; beyond that a uniform sample of this many"),
    "top": Setting(s.between(1, 1000), 10, "rows in each top-N table"),
}
