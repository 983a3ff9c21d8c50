"""The fields of `mongodb` events: the only place that names them (each is declared in fields.yml)."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from . import documents as docs
from .messages import MongoMessage
from .parser import BULKY
from .settings import MongoConfig

__all__ = ["event_fields", "query_text"]


def query_text(request: MongoMessage, full: bool) -> str:
    """Packetbeat's reconstruction: `db.coll.method(params).skip(n).limit(n)`."""
    text = f"{request.resource}.{request.method}("
    params = request.params
    if params:
        if full:
            text += docs.to_json(params)
        elif request.method in BULKY:
            text += docs.to_json({k: v for k, v in params.items() if k != BULKY[request.method]})
    text += ")"
    values = dict(request.fields)
    skip, limit = values.get("numberToSkip", 0), values.get("numberToReturn", 0)
    if isinstance(skip, int) and skip > 0:
        text += f".skip({skip})"
    if isinstance(limit, int) and 0 < limit < 0x7FFFFFFF:
        text += f".limit({limit})"
    return text


def _response_text(reply: MongoMessage, config: MongoConfig) -> str:
    lines = []
    for i, document in enumerate(reply.documents):
        if config.max_docs > 0 and i >= config.max_docs:
            break
        text = docs.to_json(document)
        if config.max_doc_length > 0 and len(text) > config.max_doc_length:
            text = text[: config.max_doc_length] + " ..."
        lines.append(text)
    if config.max_docs > 0 and reply.num_documents > config.max_docs:
        lines.append("[...]")
    return "\n".join(lines)


def event_fields(txn: Transaction[MongoMessage, MongoMessage], config: MongoConfig) -> dict[str, Any]:
    request, reply = txn.request, txn.response
    fields: dict[str, Any] = {}
    mongodb: dict[str, Any] = {}
    if request is not None:
        mongodb.update(request.fields)
        if request.method:
            fields["method"] = request.method
        if request.resource:
            fields["resource"] = request.resource
        if request.method and request.resource:
            fields["query"] = query_text(request, full=False)
            if config.send_request:
                fields["request"] = query_text(request, full=True)
    if reply is not None:
        mongodb.update(reply.fields)
        if reply.error is not None:
            mongodb["error"] = reply.error
        if config.send_response and reply.documents:
            fields["response"] = _response_text(reply, config)
    if mongodb:
        fields["mongodb"] = mongodb
    return fields
