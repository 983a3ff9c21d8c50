"""A FIFO bounded by message count and by bytes, evicting the oldest (Packetbeat's redis MessageQueue):
for modules whose requests wait for replies (redis, memcache)."""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar

__all__ = ["MessageQueue", "Sized"]


class Sized(Protocol):
    @property
    def kept(self) -> int: ...


T = TypeVar("T", bound=Sized)


class MessageQueue(Generic[T]):
    """`append` makes room first: one slot if full, then bytes until the new message fits (or the
    queue is empty: a message larger than `max_bytes` is still kept, alone). 0 turns a limit off."""

    __slots__ = ("_items", "_max_messages", "_max_bytes", "_bytes")

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self._items: deque[T] = deque()
        self._max_messages = max_messages if max_messages > 0 else 1 << 62
        self._max_bytes = max_bytes if max_bytes > 0 else 1 << 62
        self._bytes = 0

    def append(self, item: T) -> list[T]:
        """Queue `item`; return the messages evicted to make room, oldest first."""
        evicted: list[T] = []
        items = self._items
        if len(items) >= self._max_messages:
            evicted.append(self.popleft())
        size = item.kept
        while items and self._bytes + size > self._max_bytes:
            evicted.append(self.popleft())
        items.append(item)
        self._bytes += size
        return evicted

    def popleft(self) -> T:
        item = self._items.popleft()
        self._bytes -= item.kept
        return item

    def peek(self) -> T | None:
        return self._items[0] if self._items else None

    def clear(self) -> list[T]:
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        return items

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
