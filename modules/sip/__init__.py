"""SIP (RFC 3261) over UDP and TCP, one event per message, with Packetbeat's `sip.*` fields."""

from .module import SipModule
from .parser import SipProtocolError

MODULE = SipModule

__all__ = ["MODULE", "SipModule", "SipProtocolError"]
