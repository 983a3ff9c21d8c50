"""Redis (RESP2 and RESP3) protocol module."""

from .module import RedisModule

MODULE = RedisModule

__all__ = ["MODULE", "RedisModule"]
