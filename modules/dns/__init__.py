"""DNS over UDP and TCP, with Packetbeat's `dns.*` event fields."""

from .module import DnsModule
from .wire import DnsProtocolError

MODULE = DnsModule

__all__ = ["MODULE", "DnsModule", "DnsProtocolError"]
