"""Beats processors: global (`processors`), per protocol (`packetshipper.protocols[].processors`) and for
flows (`packetshipper.flows.processors`), in libbeat's syntax, order and semantics.

One module per family (filtering, adding, mutating, host, hashing, network, decoding, placeholders);
`registry` knows the names, validates config lists and builds a `Chain` per event source.
"""

from __future__ import annotations

from .base import Chain, Processor, ProcessorError, ProcessorStats
from .registry import MAX_PROCESSORS, PROCESSORS, build_chain, processors_list, validate_processors

__all__ = ["Chain", "Processor", "ProcessorError", "ProcessorStats", "PROCESSORS", "MAX_PROCESSORS",
           "build_chain", "processors_list", "validate_processors"]
