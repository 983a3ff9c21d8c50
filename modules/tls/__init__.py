"""TLS: one event per connection from its handshake (hellos, certificates, alerts, JA3/JA3S/JA4)."""

from .module import TlsModule

MODULE = TlsModule

__all__ = ["MODULE", "TlsModule"]
