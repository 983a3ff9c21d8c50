"""The publisher pipeline: queue (memory or disk spool), batching, retry with backoff, dead letters.

Config sections: `queue` (PIPELINE_SETTINGS), `dead_letter` (DEAD_LETTER_SETTINGS), `validation`
(VALIDATION_SETTINGS); the output's own section comes from `packetshipper.outputs.output_settings`.
"""

from __future__ import annotations

from .api import Publisher
from .build import build_publisher, enabled_output
from .config import (
    DEAD_LETTER_SETTINGS,
    DISK_QUEUE_SETTINGS,
    MEM_QUEUE_SETTINGS,
    PIPELINE_SETTINGS,
    VALIDATION_SETTINGS,
    queue_choice,
)
from .publisher import QueuePublisher

__all__ = [
    "Publisher",
    "QueuePublisher",
    "build_publisher",
    "enabled_output",
    "queue_choice",
    "PIPELINE_SETTINGS",
    "MEM_QUEUE_SETTINGS",
    "DISK_QUEUE_SETTINGS",
    "DEAD_LETTER_SETTINGS",
    "VALIDATION_SETTINGS",
    "PIPELINE_SECTIONS",
]

# Top-level config sections this package owns, for the lead's config schema.
PIPELINE_SECTIONS = {
    "queue": PIPELINE_SETTINGS,
    "dead_letter": DEAD_LETTER_SETTINGS,
    "validation": VALIDATION_SETTINGS,
}
