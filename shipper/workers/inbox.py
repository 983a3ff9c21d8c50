"""The main process's end of the workers' event messages: encoded events into the one publisher."""

from __future__ import annotations

from itertools import repeat
from typing import Any

from ..outputs.encoded import EncodedEvent, encoded_batch
from ..pipeline.api import Publisher
from . import channel
from .encoding import Encoding, encoding_of

__all__ = ["Inbox"]


class Inbox:
    """Queues a worker's batch as the worker encoded it (`publish_encoded_many`: no JSON decode, no encode,
    no dict per event), or, for a publisher that takes dicts only, decodes each event for `publish`."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.encoding: Encoding = encoding_of(publisher)

    def events(self, message: bytes) -> int:
        """An `E` message: its events published; ValueError if it is not one. Returns how many."""
        docs, metas, fields = channel.read_events(message)
        paths, make = self.encoding.paths, EncodedEvent
        if not self.encoding.queued:
            publish = self.publisher.publish
            for doc, meta in zip(docs, metas or repeat(None, len(docs)), strict=True):
                publish(make(doc, meta).decoded())
            return len(docs)
        put_many = self.publisher.publish_encoded_many  # type: ignore[attr-defined]  # `queued`: it has it
        if metas is None and fields is None:
            put_many(encoded_batch(docs, None, paths))
        else:
            none = repeat(None, len(docs))
            put_many([make(doc, meta, values, paths)
                      for doc, meta, values in zip(docs, metas or none, fields or none, strict=True)])
        return len(docs)

    def unencodable(self, body: Any) -> None:
        """A `U` message's body: counted and dead-lettered by the publisher, as it does its own."""
        if not isinstance(body, list) or len(body) != 2 or not isinstance(body[0], str):
            raise ValueError("an unencodable event's message is not [reason, event]")
        reason, event = body
        self.publisher.unencodable(event, reason)  # type: ignore[attr-defined]  # sent only when `queued`
