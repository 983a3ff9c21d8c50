"""MongoDB wire protocol module (OP_MSG, the legacy opcodes, OP_COMPRESSED); BSON via pymongo's bson."""

from .module import MongodbModule

MODULE = MongodbModule

__all__ = ["MODULE", "MongodbModule"]
