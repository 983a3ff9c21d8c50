"""Apache Thrift RPC module: binary and compact protocols over socket (unframed) and framed transports."""

from .module import ThriftModule

MODULE = ThriftModule

__all__ = ["MODULE", "ThriftModule"]
