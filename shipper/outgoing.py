"""`packetshipper.ignore_outgoing`: transactions this host itself starts are not reported.

Packetbeat 8's meaning (packetbeat/publish and pb.Fields' host-based direction): a transaction is
outgoing when its destination (the server) is not this host and its source (the client) is. "This
host" is one of the host's own addresses or a loopback, link-local unicast or link-local multicast
address; the destination is tested first, so traffic from this host to itself is incoming and kept.
The test runs before any processor, as Packetbeat's transaction publisher drops such events before
its processors see them. Flows are not filtered: Packetbeat's flows publish to the pipeline directly,
past the transaction publisher, so their reports are kept whoever started them.

The addresses are the capture devices' (libpcap's list, `devices.find_devices`), without loopbacks;
on a live capture they are read again every `packetshipper.local_addresses_refresh`.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import settings as s
from .address_verdicts import AddressVerdicts, IPAddress
from .direction import NAMED_NETWORKS
from .settings import Setting, Spec

__all__ = ["OUTGOING_SETTINGS", "LocalAddresses", "OutgoingFilter", "outgoing_filter"]

log = logging.getLogger("packetshipper")

OUTGOING_SETTINGS: Spec = {
    "ignore_outgoing": Setting(s.boolean, False, "do not report transactions this host starts (its own "
                               "address or a loopback or link-local one as client, another host as server), "
                               "e.g. where two sensors see the same traffic; flows are still reported, as in "
                               "Packetbeat"),
    "local_addresses_refresh": Setting(s.at_least(0, s.duration), 30.0,
                                       "with ignore_outgoing on a live capture: how often this host's addresses "
                                       "are read again from the interfaces; 0s: only at start"),
}

_HOST_SCOPED = (NAMED_NETWORKS["loopback"], NAMED_NETWORKS["link_local_unicast"],
                NAMED_NETWORKS["link_local_multicast"])


def _interface_addresses() -> list[str]:
    from .devices import find_devices

    return [address for device in find_devices() for address in device.addresses]


class LocalAddresses:
    """This host's addresses, and whether an address is this host's (cached per address, bounded)."""

    def __init__(self, read: Callable[[], Iterable[str]] = _interface_addresses, refresh: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read, self._refresh, self._clock = read, refresh, clock
        self._own: frozenset[Any] = frozenset()
        self._verdicts = AddressVerdicts(self._is_local)
        self._next = float("inf")
        self.refreshes = 0
        self.read_errors = 0
        self.reload()

    def reload(self) -> None:
        try:
            found = list(self._read())
        except Exception as error:  # noqa: BLE001 - a failed re-read keeps the last list, and says so
            self.read_errors += 1
            log.warning("ignore_outgoing: cannot read this host's addresses (%s); keeping the %d known",
                        error, len(self._own))
            found = None
        if found is not None:
            own = set()
            for text in found:
                try:
                    ip = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: the zone is not the address
                except ValueError:
                    continue
                if not ip.is_loopback:  # as Packetbeat: loopbacks are this host's by their range anyway
                    own.add(ip)
            self._own = frozenset(own)
            self._verdicts.clear()
        self.refreshes += 1
        if self._refresh > 0:
            self._next = self._clock() + self._refresh

    @property
    def addresses(self) -> frozenset[Any]:
        return self._own

    @property
    def cache_resets(self) -> int:
        return self._verdicts.resets

    def mine(self, address: str) -> bool:
        if self._refresh and self._clock() >= self._next:
            self.reload()
        return self._verdicts(address)

    def _is_local(self, ip: IPAddress) -> bool:
        return ip in self._own or any(test(ip) for test in _HOST_SCOPED)


class OutgoingFilter:
    """`outgoing(event)`, and `guard(emit)`: an emit that drops (and counts) outgoing transactions."""

    def __init__(self, local: LocalAddresses) -> None:
        self.local = local
        self.ignored = 0

    def outgoing(self, event: dict[str, Any]) -> bool:
        """A missing or unreadable address is skipped, as Packetbeat skips a nil IP."""
        src, dst = _ip_of(event.get("source")), _ip_of(event.get("destination"))
        mine = self.local.mine
        return src is not None and not (dst is not None and mine(dst)) and mine(src)

    def drops(self, event: dict[str, Any]) -> bool:
        """True (and counted) if `event` is outgoing."""
        if self.outgoing(event):
            self.ignored += 1
            return True
        return False

    def guard(self, emit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        drops = self.drops

        def guarded(event: dict[str, Any]) -> None:
            if not drops(event):
                emit(event)

        return guarded

    def stats(self) -> dict[str, Any]:
        local = self.local
        return {"ignored_transactions": self.ignored, "local_addresses": len(local.addresses),
                "refreshes": local.refreshes, "read_errors": local.read_errors, "cache_resets": local.cache_resets}


def _ip_of(endpoint: Any) -> str | None:
    ip = endpoint.get("ip") if isinstance(endpoint, dict) else None
    return ip if isinstance(ip, str) else None


def outgoing_filter(settings: dict[str, Any], live: bool, read: Callable[[], Iterable[str]] | None = None
                    ) -> OutgoingFilter | None:
    """The filter `packetshipper.*` settings ask for, or None. Addresses refresh only on a live capture."""
    if not settings.get("ignore_outgoing"):
        return None
    refresh = float(settings.get("local_addresses_refresh", 0.0)) if live else 0.0
    local = LocalAddresses(read or _interface_addresses, refresh)
    log.info("ignore_outgoing: transactions from this host's %d addresses (and loopback, link-local) to other "
             "hosts are not reported", len(local.addresses))
    return OutgoingFilter(local)
