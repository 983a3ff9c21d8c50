"""Worker processes: `packetshipper.workers: N` shares the flows out over N processes (see supervisor.py)."""

from __future__ import annotations

from .config import WORKER_SETTINGS
from .supervisor import Supervisor

__all__ = ["WORKER_SETTINGS", "Supervisor"]
