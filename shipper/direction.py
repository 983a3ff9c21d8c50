"""`network.direction` from `packetshipper.interfaces.internal_networks`, as Packetbeat sets it.

A connection's client and server are each internal or not: both internal is `internal`, neither is
`external`, an internal client to an external server is `outbound`, the reverse `inbound`. Networks are
CIDRs or the named sets Beats' conditions know (`private`, `loopback`, `unicast`, ...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from .address_verdicts import AddressVerdicts, IPAddress
from .settings import ConfigError, quote

__all__ = ["NAMED_NETWORKS", "DirectionClassifier", "internal_networks", "port_range", "is_client_side"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _link_local_unicast(ip: Address) -> bool:
    return ip.is_link_local and not ip.is_multicast


def _link_local_multicast(ip: Address) -> bool:
    if ip.version == 4:
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    return ip.is_multicast and (int(ip) >> 112) & 0xF == 2


def _interface_local_multicast(ip: Address) -> bool:
    return ip.version == 6 and ip.is_multicast and (int(ip) >> 112) & 0xF == 1


def _global_unicast(ip: Address) -> bool:
    """Go's IP.IsGlobalUnicast, which Beats uses: private addresses are global unicast too."""
    return not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or _link_local_unicast(ip) or ip == _BROADCAST)


def _private(ip: Address) -> bool:
    return any(ip in network for network in _PRIVATE if network.version == ip.version)


NAMED_NETWORKS: dict[str, Callable[[Address], bool]] = {
    "loopback": lambda ip: ip.is_loopback,
    "unicast": _global_unicast,
    "global_unicast": _global_unicast,
    "multicast": lambda ip: ip.is_multicast,
    "interface_local_multicast": _interface_local_multicast,
    "link_local": lambda ip: ip.is_link_local or _link_local_multicast(ip),
    "link_local_unicast": _link_local_unicast,
    "link_local_multicast": _link_local_multicast,
    "private": _private,
    "public": lambda ip: _global_unicast(ip) and not _private(ip),
    "unspecified": lambda ip: ip.is_unspecified,
}


def internal_networks(value: Any) -> list[str]:
    """Setting converter: a list of CIDRs (or bare addresses) and named sets."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"expected a list of CIDRs or named networks, got {quote(value)}")
    out = []
    for item in items:
        text = str(item).strip()
        if text not in NAMED_NETWORKS:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                names = ", ".join(sorted(NAMED_NETWORKS))
                raise ValueError(f"{quote(text)} is neither a CIDR nor a named network ({names})") from None
        out.append(text)
    return out


def port_range(value: Any) -> list[int]:
    """Setting converter: `32768-60999` or [32768, 60999]; [low, high]."""
    if isinstance(value, str) and "-" in value:
        parts: Any = value.split("-", 1)
    elif isinstance(value, list | tuple) and len(value) == 2:
        parts = value
    else:
        raise ValueError(f"expected a port range such as 32768-60999, got {quote(value)}")
    try:
        low, high = int(str(parts[0]).strip()), int(str(parts[1]).strip())
    except ValueError:
        raise ValueError(f"expected a port range such as 32768-60999, got {quote(value)}") from None
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"a port range runs from 1 to 65535, low to high; got {quote(value)}")
    return [low, high]


def is_client_side(flags_syn_only: bool, flags_syn_ack: bool, sport: int, dport: int,
                   ephemeral: Sequence[int]) -> bool:
    """Whether the sender of a connection's first seen packet is its client: the SYN's sender; the
    receiver of a SYN-ACK; else the side on an ephemeral port; else the first sender. (The compiled path's
    twin: _hotpath._client_side.)"""
    if flags_syn_only:
        return True
    if flags_syn_ack:
        return False
    low, high = ephemeral
    source_ephemeral, destination_ephemeral = low <= sport <= high, low <= dport <= high
    return not (destination_ephemeral and not source_ephemeral)


class DirectionClassifier:
    """`direction(client_ip, server_ip)`; each address's verdict is cached, in a bounded table."""

    def __init__(self, networks: list[str]) -> None:
        if not networks:
            raise ConfigError("packetshipper.interfaces.internal_networks", "no networks given")
        self._tests = [NAMED_NETWORKS[n] for n in networks if n in NAMED_NETWORKS]
        self._cidrs = [ipaddress.ip_network(n, strict=False) for n in networks if n not in NAMED_NETWORKS]
        self.internal = AddressVerdicts(self._inside)  # internal(address) -> bool

    def _inside(self, ip: IPAddress) -> bool:
        return any(test(ip) for test in self._tests) or any(
            ip in network for network in self._cidrs if network.version == ip.version)

    def __call__(self, client: str, server: str) -> str:
        inside_client, inside_server = self.internal(client), self.internal(server)
        if inside_client:
            return "internal" if inside_server else "outbound"
        return "inbound" if inside_server else "external"
