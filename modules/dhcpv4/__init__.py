"""DHCPv4 (RFC 2131, RFC 2132) protocol module: one event per message, Packetbeat's `dhcpv4` events."""

from .module import Dhcpv4Module

MODULE = Dhcpv4Module

__all__ = ["MODULE", "Dhcpv4Module"]
