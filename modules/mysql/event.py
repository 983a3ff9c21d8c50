"""The `mysql` event fields: the only place naming them (each is declared in fields.yml)."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from .messages import MysqlRequest, MysqlResponse
from .settings import CONNECT, MysqlConfig

__all__ = ["event_fields"]


def event_fields(transaction: Transaction[Any, Any], config: MysqlConfig) -> dict[str, Any]:
    request: MysqlRequest | None = transaction.request
    response: MysqlResponse | None = transaction.response
    mysql: dict[str, Any] = {}
    fields: dict[str, Any] = {"mysql": mysql}
    path = ""
    if request is not None:
        fields["method"] = request.method
        fields["query"] = request.query
        mysql["command"] = request.command_name if request.command_name == CONNECT else f"COM_{request.command_name}"
        if request.params:
            fields["params"] = list(request.params)
        if request.user:
            fields["user"] = {"name": request.user}
            fields["related"] = {"user": [request.user]}
        if request.database:
            mysql["database"] = request.database
        if config.send_request:
            fields["request"] = request.raw
        path = request.path
    if response is not None:
        mysql["affected_rows"] = response.affected_rows
        mysql["insert_id"] = response.insert_id
        mysql["num_rows"] = response.num_rows
        mysql["num_fields"] = response.num_fields
        if response.is_error:
            mysql["error_code"] = response.error_code
            mysql["error_message"] = response.error_message
        if response.server_version:
            mysql["server_version"] = response.server_version
        if response.auth_plugin:
            mysql["auth_plugin"] = response.auth_plugin
        if config.send_response:
            fields["response"] = response.rendered
        path = response.tables or path
    if path:
        fields["path"] = path
    return fields
