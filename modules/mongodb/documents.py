"""BSON documents through pymongo's `bson` (optional: without it documents are counted, not read), and
their JSON rendering as Packetbeat shows them (keys sorted, as Go marshals a map)."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["AVAILABLE", "MISSING_REASON", "Undecodable", "decode", "to_json", "plain"]

log = logging.getLogger(__name__)

try:
    import bson
    from bson.codec_options import CodecOptions, DatetimeConversion

    _OPTIONS: Any = CodecOptions(unicode_decode_error_handler="replace",
                                 datetime_conversion=DatetimeConversion.DATETIME_AUTO)
    _ERRORS: tuple[type[Exception], ...] = (bson.errors.BSONError, ValueError, OverflowError)
    AVAILABLE = True
except ImportError:  # the `mongodb` extra is not installed
    bson = None  # type: ignore[assignment]
    _OPTIONS = None
    _ERRORS = ()
    AVAILABLE = False

MISSING_REASON = ("pymongo's bson is not installed (pip install 'packetshipper[mongodb]'): documents are "
                  "not decoded; events carry opcodes, collections, counts and sizes")


class Undecodable(Exception):
    """A document that is not valid BSON (or no decoder is installed)."""


def decode(raw: bytes) -> dict[str, Any]:
    if bson is None:
        raise Undecodable("no BSON decoder")
    try:
        document = bson.decode(raw, codec_options=_OPTIONS)
    except _ERRORS as exc:
        raise Undecodable(str(exc)) from exc
    return dict(document)


MAX_DEPTH = 64  # nesting shown in JSON; deeper values become "[...]" (BSON allows far deeper documents)


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy: ObjectId as hex, dates as RFC 3339, binary as base64, the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        return "[...]"
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
