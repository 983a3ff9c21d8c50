"""The fields of `thrift` events: the only place that names them (each is declared in fields.yml)."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from .correlator import has_exception
from .idl import Idl
from .messages import ThriftMessage
from .render import struct_text
from .settings import ThriftConfig

__all__ = ["event_fields"]


def event_fields(txn: Transaction[ThriftMessage, ThriftMessage], config: ThriftConfig,
                 idl: Idl | None) -> dict[str, Any]:
    call, reply = txn.request, txn.response
    thrift: dict[str, Any] = {}
    fields: dict[str, Any] = {"thrift": thrift}
    first = call if call is not None else reply
    assert first is not None
    method = idl.methods.get(first.method) if idl else None
    if call is not None:
        params = struct_text(call.fields, config.collection_max_size, method.params if method else None)
        query = call.method + params
        fields["method"] = call.method
        fields["query"] = query
        thrift["params"] = params
        if method:
            thrift["service"] = method.service
            fields["path"] = method.service
        if config.send_request:
            fields["request"] = query
    if reply is not None:
        if has_exception(reply):
            exceptions = struct_text(reply.fields, config.collection_max_size,
                                     method.exceptions if method and reply.kind != 3 else None)
            thrift["return_value"] = ""
            thrift["exceptions"] = exceptions
            response = f"Exceptions: {exceptions}"
        else:
            thrift["return_value"] = reply.fields[0][1] if reply.fields else ""
            response = thrift["return_value"]
        if call is None:
            fields["method"] = reply.method
        if config.send_response:
            fields["response"] = response
    return fields
