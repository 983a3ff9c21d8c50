"""Flow rollup events (`packetshipper.flows.aggregate`): one per key and period."""

from .event import rollup_event

__all__ = ["rollup_event"]
