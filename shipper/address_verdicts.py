"""A bounded cache of a yes/no test of IP addresses given as text (ignore_outgoing, internal_networks)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

__all__ = ["AddressVerdicts", "IPAddress"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressVerdicts:
    """`verdicts(address)`: `test` of the parsed address, remembered per address text. Text that is not
    an address is False. At `limit` addresses the cache starts again, counted in `resets`."""

    def __init__(self, test: Callable[[IPAddress], bool], limit: int = 65536) -> None:
        self._test = test
        self._limit = limit
        self._cache: dict[str, bool] = {}
        self.resets = 0

    def __call__(self, address: str) -> bool:
        verdict = self._cache.get(address)
        if verdict is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            verdict = self._test(ip)
            if len(self._cache) >= self._limit:
                self._cache = {}
                self.resets += 1
            self._cache[address] = verdict
        return verdict

    def clear(self) -> None:
        """Forget every verdict (what the test reads has changed); not counted as a reset."""
        self._cache = {}
