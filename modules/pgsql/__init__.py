"""PostgreSQL protocol module (frontend/backend protocol 3.0)."""

from .module import PgsqlModule

MODULE = PgsqlModule

__all__ = ["MODULE", "PgsqlModule"]
