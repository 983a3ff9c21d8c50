"""The output contract: what the publisher pipeline calls to deliver a batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..compat import DEFAULT_IDENTITY, Identity
from ..settings import Spec

__all__ = ["Output", "OutputError", "BatchResult"]


class OutputError(Exception):
    """The whole batch failed (connection refused or reset, non-2xx answer, timeout): retry it all."""


@dataclass(slots=True)
class BatchResult:
    """Per-event outcome of one batch. Events in neither list were acknowledged by the receiver.

    `retry`: indexes into the batch to send again later (429, 5xx items).
    `dead`: (index, reason) of events the receiver rejected for good (other 4xx items); the pipeline
    writes them to the dead-letter file with the reason.
    `duplicates`: events the receiver already had (409 on create); they count as acknowledged.
    """

    retry: list[int] = field(default_factory=list)
    dead: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0


class Output(ABC):
    """One kind of output (`output.<name>` in the config); one instance per run."""

    name: ClassVar[str]
    settings: ClassVar[Spec]
    # True: the publisher stamps every event with a unique `@metadata._id` when it is queued (so the id
    # is kept across retries and, in the disk queue, restarts); the output sends it to deduplicate.
    event_ids: bool = False
    identity: Identity = DEFAULT_IDENTITY

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config  # validated against `settings`, defaults filled in
        self.stats: dict[str, int] = {}

    def use_identity(self, identity: Identity) -> None:
        """The names events go out under (beat, version: `packetshipper.compat`); the pipeline calls it
        once, before `connect`. Outputs that derive names or metadata from it override this."""
        self.identity = identity

    def connect(self) -> None:  # noqa: B027
        """Open connections eagerly (optional); failures raise OutputError."""

    @abstractmethod
    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        """Deliver `events`; raise OutputError if none can be known to have landed."""

    def close(self) -> None:  # noqa: B027
        """Release connections and files."""
