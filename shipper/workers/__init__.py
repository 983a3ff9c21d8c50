"""Worker processes: `packetshipper.workers: N` shares the flows out over N processes (see supervisor.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import WORKER_SETTINGS

if TYPE_CHECKING:
    from .supervisor import Supervisor

__all__ = ["WORKER_SETTINGS", "Supervisor"]


def __getattr__(name: str) -> Any:
    if name == "Supervisor":  # imported when used: reading the workers' settings needs none of it
        from .supervisor import Supervisor

        return Supervisor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
