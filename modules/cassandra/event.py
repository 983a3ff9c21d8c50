"""The fields of `cassandra` events: the only place that names them (each is declared in fields.yml)."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from . import codes as c
from .messages import Frame
from .settings import CassandraConfig

__all__ = ["event_fields", "headers"]


def headers(frame: Frame) -> dict[str, Any]:
    """Packetbeat's `headers`: the version as text, the flags by name, stream, op and body length."""
    return {"version": str(frame.version), "flags": c.flag_names(frame.flags), "stream": frame.stream,
            "op": c.OPCODES[frame.opcode], "length": frame.length}


def _public(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if not key.startswith("_")}


def event_fields(txn: Transaction[Frame, Frame], config: CassandraConfig) -> dict[str, Any]:
    request, response = txn.request, txn.response
    cassandra: dict[str, Any] = {}
    if request is not None and config.send_request:
        data = _public(request.fields)
        if config.send_request_header:
            data["headers"] = headers(request)
        if data:
            cassandra["request"] = data
    if request is None and response is not None and response.opcode == c.EVENT:
        cassandra["no_request"] = True
    if response is not None and config.send_response:
        data = _public(response.fields)
        if config.send_response_header:
            data["headers"] = headers(response)
        if data:
            cassandra["response"] = data
    fields: dict[str, Any] = {"cassandra": cassandra}
    if request is not None and "query" in request.fields:
        fields["query"] = request.fields["query"]
    if request is not None:
        fields["method"] = c.OPCODES[request.opcode]
    return fields
