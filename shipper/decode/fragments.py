"""Bounded IP fragment reassembly (IPv4 and IPv6).

Limits: datagrams in progress (`max_datagrams`), fragments per datagram, bytes per datagram (65535 for
IPv4, the jumbogram-free IPv6 maximum likewise) and a timeout on the packet clock. What goes over a limit
is dropped and counted; nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

__all__ = ["FragmentReassembler", "FRAGMENT_DEFAULTS"]

class _Defaults(TypedDict):
    max_datagrams: int
    max_fragments: int
    max_datagram_bytes: int
    timeout: float


FRAGMENT_DEFAULTS: _Defaults = {"max_datagrams": 4096, "max_fragments": 64, "max_datagram_bytes": 65535,
                                "timeout": 30.0}

FragmentKey = tuple[int, bytes, bytes, int, int]  # ip version, src, dst, identification, protocol


@dataclass(slots=True)
class _Pending:
    first_seen: float
    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    total: int = -1  # known once the last fragment (more-fragments clear) arrived
    size: int = 0


class FragmentReassembler:
    def __init__(
        self,
        max_datagrams: int = FRAGMENT_DEFAULTS["max_datagrams"],
        max_fragments: int = FRAGMENT_DEFAULTS["max_fragments"],
        max_datagram_bytes: int = FRAGMENT_DEFAULTS["max_datagram_bytes"],
        timeout: float = FRAGMENT_DEFAULTS["timeout"],
    ) -> None:
        self.max_datagrams = max_datagrams
        self.max_fragments = max_fragments
        self.max_datagram_bytes = max_datagram_bytes
        self.timeout = timeout
        self._pending: dict[FragmentKey, _Pending] = {}
        self.fragments = 0
        self.reassembled = 0
        self.timed_out = 0
        self.dropped_table_full = 0
        self.dropped_too_many_fragments = 0
        self.dropped_too_big = 0
        self.dropped_inconsistent = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: FragmentKey, offset: int, more: bool, data: bytes, ts: float) -> bytes | None:
        """Add one fragment's payload at byte `offset`; return the whole payload once complete."""
        self.fragments += 1
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_datagrams:
                self.expire(ts)
                if len(self._pending) >= self.max_datagrams:
                    self.dropped_table_full += 1
                    return None
            pending = self._pending[key] = _Pending(ts)
        end = offset + len(data)
        if end > self.max_datagram_bytes:
            self.dropped_too_big += 1
            del self._pending[key]
            return None
        if len(pending.pieces) >= self.max_fragments:
            self.dropped_too_many_fragments += 1
            del self._pending[key]
            return None
        if not more:
            if pending.total not in (-1, end) or end < pending.size:
                self.dropped_inconsistent += 1
                del self._pending[key]
                return None
            pending.total = end
        elif pending.total != -1 and end > pending.total:
            self.dropped_inconsistent += 1
            del self._pending[key]
            return None
        pending.pieces.append((offset, data))
        pending.size = max(pending.size, end)
        if pending.total == -1:
            return None
        return self._try_assemble(key, pending)

    def _try_assemble(self, key: FragmentKey, pending: _Pending) -> bytes | None:
        pieces = sorted(pending.pieces, key=lambda piece: piece[0])
        covered = 0
        for offset, data in pieces:
            if offset > covered:
                return None  # still a hole
            covered = max(covered, offset + len(data))
        if covered < pending.total:
            return None
        out = bytearray(pending.total)
        # Later pieces overwrite earlier ones in offset order; for overlapping retransmissions the
        # bytes are normally identical, and a datagram of conflicting overlaps is attacker-made anyway.
        for offset, data in pieces:
            out[offset : offset + len(data)] = data
        del self._pending[key]
        self.reassembled += 1
        return bytes(out)

    def expire(self, now: float) -> int:
        """Drop datagrams older than the timeout; return how many."""
        stale = [key for key, p in self._pending.items() if now - p.first_seen > self.timeout]
        for key in stale:
            del self._pending[key]
        self.timed_out += len(stale)
        return len(stale)

    def stats(self) -> dict[str, int]:
        return {
            "fragments": self.fragments,
            "reassembled": self.reassembled,
            "in_progress": len(self._pending),
            "timed_out": self.timed_out,
            "dropped_table_full": self.dropped_table_full,
            "dropped_too_many_fragments": self.dropped_too_many_fragments,
            "dropped_too_big": self.dropped_too_big,
            "dropped_inconsistent": self.dropped_inconsistent,
        }
