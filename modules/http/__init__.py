"""HTTP/1.x protocol module."""

from .module import HttpModule

MODULE = HttpModule

__all__ = ["MODULE", "HttpModule"]
