"""glibc's malloc for a capture run: freed memory kept for the next batch, not given back at once.

Each batch of packets read from a file is one buffer of about a megabyte (pcapy-ng's `next_batch`),
made, used and freed thousands of times a run, and a report's documents come and go in bursts. With
glibc's defaults such a buffer is mapped and unmapped again each time, or the heap is trimmed and grown
again around it, and every page of it is faulted in anew: on bench's flows capture 11,000 of the run's
44,000 page faults, and a bare `next_batch` read of the file went from 20,000 faults to 3,500. So a run
keeps up to TOP_PAD bytes free at the top of each heap and serves allocations below MMAP_THRESHOLD from
the heap. The cost: a process may hold up to TOP_PAD more memory than it uses, per malloc arena.

Only with the compiled hot path (it carries the mallopt call) and only on glibc; elsewhere nothing changes.
"""

from __future__ import annotations

from . import hotpath

__all__ = ["TOP_PAD", "MMAP_THRESHOLD", "tune"]

TOP_PAD = 16 << 20
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for it on 64-bit machines

_tuned = False


def tune() -> bool:
    """Set TOP_PAD and MMAP_THRESHOLD once per process; True if glibc took them (now or before)."""
    global _tuned
    tune_malloc = getattr(hotpath.compiled, "tune_malloc", None)
    if not _tuned and tune_malloc is not None and hotpath.enabled:
        _tuned = bool(tune_malloc(TOP_PAD, MMAP_THRESHOLD))
    return _tuned
