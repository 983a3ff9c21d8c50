"""MySQL / MariaDB protocol module."""

from .module import MysqlModule

MODULE = MysqlModule

__all__ = ["MODULE", "MysqlModule"]
