"""How worker processes encode their events: by the rules of the main process's publisher.

A worker encodes each event once, as a single process's `QueuePublisher.publish` would (validation if
enabled, the `@metadata._id` stamp if the output wants ids, the output's `EventCodec`), and the main
process queues the bytes as they come (`publish_encoded_many`, a batch under one lock). A publisher that
takes dicts only (tests, the report) gets them decoded again in the main process, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..outputs.encoded import NO_FIELDS, EventCodec
from ..pipeline.api import Publisher

__all__ = ["Encoding", "encoding_of", "worker_validator"]


@dataclass(frozen=True, slots=True)
class Encoding:
    """`queued`: the main process queues the encoded events as they are (its publisher has
    `publish_encoded_many`); else it decodes them and calls `publish` with dicts."""

    queued: bool
    paths: frozenset[str] = NO_FIELDS
    non_str_keys: bool = True
    event_ids: bool = False
    validate: bool = False

    def codec(self) -> EventCodec:
        return EventCodec(self.paths, self.non_str_keys)


def encoding_of(publisher: Publisher) -> Encoding:
    codec = getattr(publisher, "codec", None)
    if not isinstance(codec, EventCodec) or not callable(getattr(publisher, "publish_encoded_many", None)):
        return Encoding(queued=False)
    output = getattr(publisher, "output", None)
    return Encoding(True, codec.paths, bool(codec.option & orjson.OPT_NON_STR_KEYS),
                    bool(getattr(output, "event_ids", False)),
                    getattr(publisher, "validator", None) is not None)


def worker_validator(config: Mapping[str, Any]) -> tuple[Callable[[dict[str, Any]], bool], Callable[[], Any]]:
    """The validator `build_publisher` would make from `config` (validation on), and its stats function."""
    from ..pipeline.config import VALIDATION_SETTINGS
    from ..pipeline.validation import EventValidator, ShapeCache, load_schema_validator
    from ..settings import validate

    settings = validate(VALIDATION_SETTINGS, config.get("validation"), "validation")
    schema_check = load_schema_validator()
    if settings["shapes"]:
        schema_check = ShapeCache(schema_check, settings["shapes"])
    validator = EventValidator(schema_check, drop=settings["drop"])
    return validator, validator.stats
