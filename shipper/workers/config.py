"""The `packetshipper.workers` key."""

from __future__ import annotations

from .. import settings as s
from ..settings import Setting, Spec

__all__ = ["WORKER_SETTINGS", "MAX_WORKERS"]

MAX_WORKERS = 64

WORKER_SETTINGS: Spec = {
    "workers": Setting(s.between(1, MAX_WORKERS), 1,
                       "processes that decode packets, track flows and parse protocols; each owns the flows of a "
                       "share of the IP address pairs (both directions and every fragment in one). 1: one process, "
                       "as before; more: a file is shared out by one reader, a live interface needs "
                       "interfaces.type af_packet (a fanout group). `--workers` overrides"),
    "workers_queue": Setting(s.between(1, 256), 8,
                             "with workers above 1 reading a file: slots of the shared ring of batches (up to 4096 "
                             "packets each; 8 MiB a slot, used as filled) the reader may be ahead of the slowest "
                             "worker before it waits for it; waits are counted in /stats workers.reader_waits"),
}
