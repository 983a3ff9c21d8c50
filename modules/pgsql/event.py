"""The fields of `pgsql` events: the only place that names them (each is declared in fields.yml)."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from .correlator import PgsqlRequest
from .csvdump import dump_csv
from .messages import Back, BackendMessage
from .settings import PgsqlConfig

__all__ = ["event_fields"]


def event_fields(txn: Transaction[PgsqlRequest, BackendMessage], config: PgsqlConfig) -> dict[str, Any]:
    request, response = txn.request, txn.response
    fields: dict[str, Any] = {}
    pgsql: dict[str, Any] = {}
    if request is not None:
        if request.method:
            fields["method"] = request.method
        if request.query is not None:
            fields["query"] = request.query
            if config.send_request:
                fields["request"] = request.query
        if request.user:
            fields["user"] = {"name": request.user}
            fields["related"] = {"user": [request.user]}
        if request.database:
            pgsql["database"] = request.database
        if request.application_name:
            pgsql["application_name"] = request.application_name
    if response is not None:
        pgsql["num_rows"] = response.num_rows
        pgsql["num_fields"] = len(response.fields)
        if response.tag:
            pgsql["command_tag"] = response.tag
        error = response.error
        if response.kind is Back.ERROR and error is not None:
            pgsql["error_code"] = error.code
            pgsql["error_message"] = error.message
            pgsql["error_severity"] = error.severity
        if config.send_response:
            fields["response"] = dump_csv(response.fields, response.rows)
    if pgsql:
        fields["pgsql"] = pgsql
    return fields
