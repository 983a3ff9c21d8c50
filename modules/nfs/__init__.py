"""NFS v3 and v4 over ONC RPC (TCP record marking), with Packetbeat's `rpc.*` and `nfs.*` event fields."""

from .module import NfsModule
from .xdr import NfsProtocolError

MODULE = NfsModule

__all__ = ["MODULE", "NfsModule", "NfsProtocolError"]
