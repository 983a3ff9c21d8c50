"""Cassandra native protocol module (CQL binary protocol v1 to v5, lz4/snappy compression)."""

from .module import CassandraModule

MODULE = CassandraModule

__all__ = ["MODULE", "CassandraModule"]
