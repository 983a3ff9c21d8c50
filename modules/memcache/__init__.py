"""Memcache (text and binary protocols, TCP and UDP) protocol module."""

from .module import MemcacheModule

MODULE = MemcacheModule

__all__ = ["MODULE", "MemcacheModule"]
