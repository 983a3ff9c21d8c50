"""What the response parser must know about the requests it answers: their methods.

A response to HEAD has no body whatever its headers say (RFC 9112 6.3), so the request parser records
each request's method here as soon as its head is parsed, and the response parser takes one per final
response. Both parsers of a connection share one log; it lives as long as either parser does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class ExchangeLog:
    __slots__ = ("_methods", "_limit", "_count", "__weakref__")

    def __init__(self, limit: int, count: Callable[[str], None]) -> None:
        self._methods: deque[str] = deque()
        self._limit = limit
        self._count = count

    def request_sent(self, method: str) -> None:
        if len(self._methods) >= self._limit:
            self._methods.popleft()
            self._count("pending_methods_dropped")
        self._methods.append(method)

    def answer_for(self) -> str | None:
        """The method of the oldest unanswered request, consumed; None if none is known."""
        return self._methods.popleft() if self._methods else None
