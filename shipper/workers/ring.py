"""The file reader's batches in shared memory: written once, read by every worker.

With N workers reading a file, each batch (up to 4096 packets and their records) is needed whole by
every worker (each keeps its share and follows the clock of the others' packets). Sending it down N
pipes copied it 2N times through the kernel; here the reader copies it once into a slot of one
anonymous shared file (memfd) that every worker maps, and sends each worker only the slot's place
(`channel.slot_message`). A worker copies the slot out and gives it back at once.

A slot is reused only when every worker has taken what it held: the main process keeps, for each
worker, a counting semaphore of `slots` free places. The reader takes one before it writes a slot; the
worker, once it has copied a slot out, says so (a `T` message on its events pipe) and the main process
gives the place back. Workers take slots in order, so a semaphore that is not empty means the slot
about to be written was taken by that worker. (A semaphore shared with the workers would be a named
one, which a process ending without its finalizers, as after a signal, leaves for multiprocessing's
resource tracker to complain of.) A batch too big for a slot goes down the pipe as before.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["SLOT_BYTES", "BatchRing", "RingView"]

# Room for a batch of 4096 full-size Ethernet frames (1514 bytes) and their 16-byte records. Pages of
# the shared file are only used once written, so a capture of small packets uses little of it.
SLOT_BYTES = 8 << 20


class BatchRing:
    """The reader's side: `slots` slots of `slot_bytes`, written in turn."""

    def __init__(self, slots: int, slot_bytes: int = SLOT_BYTES) -> None:
        self.slots, self.slot_bytes = slots, slot_bytes
        self.fd = os.memfd_create("packetshipper-batches", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, slots * slot_bytes)
            self._map = mmap.mmap(self.fd, slots * slot_bytes)
        except OSError:
            os.close(self.fd)
            raise
        self._next = 0

    def fits(self, meta: bytes, buf: bytes) -> bool:
        return len(meta) + len(buf) <= self.slot_bytes

    def write(self, meta: bytes, buf: bytes) -> tuple[int, int, int]:
        """Write the next slot (a free place taken from every worker first); its (slot, records' length,
        buffer's length)."""
        slot = self._next
        self._next = (slot + 1) % self.slots
        start = slot * self.slot_bytes
        self._map[start:start + len(meta)] = meta
        self._map[start + len(meta):start + len(meta) + len(buf)] = buf
        return slot, len(meta), len(buf)

    def view(self) -> RingView:
        """What a worker needs to map the ring (its file descriptor goes with the worker's start)."""
        return RingView(self.fd, self.slots, self.slot_bytes)

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


@dataclass
class RingView:
    """A worker's side: the shared file, mapped read-only when first used."""

    fd: Any  # in the main process an int; a worker receives it as multiprocessing's DupFd, detached once
    slots: int
    slot_bytes: int
    _map: mmap.mmap | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled when a worker starts: the descriptor travels with it (through the fork server).
        from multiprocessing.reduction import DupFd

        return RingView, (DupFd(self.fd), self.slots, self.slot_bytes)

    def read(self, slot: int, meta_length: int, buf_length: int) -> tuple[bytes, bytes]:
        """Copies of the slot's records and buffer: the slot may be given back as soon as this returns."""
        if self._map is None:
            fd = self.fd if isinstance(self.fd, int) else self.fd.detach()
            self._map = mmap.mmap(fd, self.slots * self.slot_bytes, prot=mmap.PROT_READ)
            os.close(fd)
        if not 0 <= slot < self.slots or meta_length < 0 or buf_length < 0 or \
                meta_length + buf_length > self.slot_bytes:
            raise ValueError(f"slot {slot} ({meta_length} + {buf_length} bytes) is not in the ring")
        start = slot * self.slot_bytes
        return (self._map[start:start + meta_length],
                self._map[start + meta_length:start + meta_length + buf_length])

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
