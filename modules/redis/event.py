"""The Redis event fields (`method`, `resource`, `query`, `redis.*`): the only place naming them."""

from __future__ import annotations

from typing import Any

from .correlator import RedisTransaction
from .messages import RedisRequest, RedisResponse

__all__ = ["event_fields", "text"]


def text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def event_fields(txn: RedisTransaction, *, send_request: bool, send_response: bool) -> dict[str, Any]:
    request: RedisRequest | None = txn.request
    response: RedisResponse | None = txn.response
    fields: dict[str, Any] = {}
    redis: dict[str, Any] = {}
    if request is not None:
        fields["method"] = request.method
        if request.resource is not None:
            fields["resource"] = text(request.resource)
        fields["query"] = text(request.query)
        if send_request:
            fields["request"] = fields["query"]
    if response is not None:
        shown = text(response.text)
        redis["error" if response.is_error else "return_value"] = shown
        if txn.push is not None:
            redis["push"] = txn.push
            if len(response.head) > 1 and txn.push in ("message", "smessage", "subscribe", "ssubscribe"):
                fields["resource"] = text(response.head[1])
        if send_response:
            fields["response"] = shown
    if redis:
        fields["redis"] = redis
    return fields
