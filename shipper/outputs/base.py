"""The output contract: what the publisher pipeline calls to deliver a batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..compat import DEFAULT_IDENTITY, Identity
from ..settings import Spec
from .encoded import NO_FIELDS, EncodedEvent, EncodeError, EventCodec

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
    # True: `publish_batch` takes EncodedEvents (encoded once, at publish: see encoded.py); an output
    # written for dicts (False) is handed each event decoded again.
    accepts_encoded: ClassVar[bool] = False
    # Encode non-string dict keys as strings instead of refusing the event (console and file).
    non_str_keys: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config  # validated against `settings`, defaults filled in
        self.stats: dict[str, int] = {}
        self._codec: EventCodec | None = None

    def use_identity(self, identity: Identity) -> None:
        """The names events go out under (beat, version: `packetshipper.compat`); the pipeline calls it
        once, before `connect`. Outputs that derive names or metadata from it override this."""
        self.identity = identity
        self._codec = None

    def fields_used(self) -> frozenset[str]:
        """Event fields (dotted paths) this output reads besides the document, to route events: the
        publisher carries their values beside the encoded bytes."""
        return NO_FIELDS

    def codec(self) -> EventCodec:
        """How the publisher encodes events for this output."""
        if self._codec is None:
            self._codec = EventCodec(self.fields_used(), self.non_str_keys)
        return self._codec

    def encoded(self, events: Sequence[EncodedEvent | dict[str, Any]], dead: list[tuple[int, str]],
                why: Callable[[str], str]) -> list[EncodedEvent | None]:
        """`events` as EncodedEvents; a dict (a caller other than the publisher) is encoded here, and one
        that cannot be is None, with (index, why(reason)) added to `dead`."""
        if set(map(type, events)) <= {EncodedEvent}:
            return events  # type: ignore[return-value]  # the publisher's batches: nothing to do
        codec = self.codec()
        out: list[EncodedEvent | None] = []
        for index, event in enumerate(events):
            if isinstance(event, EncodedEvent):
                out.append(codec.ready(event))
                continue
            try:
                out.append(codec.encode(event))
            except EncodeError as exc:
                out.append(None)
                dead.append((index, why(str(exc))))
        return out

    def connect(self) -> None:  # noqa: B027
        """Open connections eagerly (optional); failures raise OutputError."""

    @abstractmethod
    def publish_batch(self, events: list[Any]) -> BatchResult:
        """Deliver `events` (EncodedEvents if `accepts_encoded`, else dicts); raise OutputError if none
        can be known to have landed."""

    def close(self) -> None:  # noqa: B027
        """Release connections and files."""
