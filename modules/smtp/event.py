"""The SMTP event fields (`smtp.*`, `event.action`, `method`): the only place naming them."""

from __future__ import annotations

from typing import Any, cast

from packetshipper.protocol import Transaction

from .messages import Reply
from .records import MailRecord

__all__ = ["event_fields"]

_HEADERS = (("from", "from"), ("to", "to"), ("cc", "cc"), ("date", "date"))


def _reply(reply: Reply) -> dict[str, Any]:
    return {"code": reply.code, "text": reply.text}


def event_fields(txn: Transaction[Any, Any], *, send_request: bool, send_response: bool) -> dict[str, Any]:
    record = cast(MailRecord, txn.request)  # every smtp transaction has its record
    final: Reply | None = txn.response
    smtp: dict[str, Any] = {}
    if record.helo is not None:
        smtp["helo"] = record.helo
    if record.greeting is not None:
        smtp["greeting"] = _reply(record.greeting)
    if record.extensions:
        smtp["extensions"] = list(record.extensions)
    if record.auth_mechanism is not None:
        smtp["auth"] = {"mechanism": record.auth_mechanism, "success": bool(record.auth_success)}
    if record.action == "starttls":
        smtp["starttls"] = final is not None and final.code == 220
    if final is not None:
        smtp["reply"] = _reply(final)
    fields: dict[str, Any] = {"smtp": smtp, "method": record.action.upper() if record.action != "mail" else "MAIL"}
    outcome = "success" if txn.status == "OK" else "failure"
    fields["event"] = {"action": record.action, "outcome": outcome}
    if record.action == "mail":
        _mail_fields(record, smtp)
    if send_request and record.lines:
        fields["request"] = "\n".join(record.lines)
    if send_response and record.replies:
        fields["response"] = "\n".join(record.replies)
    return fields


def _mail_fields(record: MailRecord, smtp: dict[str, Any]) -> None:
    smtp["end"] = record.end
    if record.mail_from is not None:
        smtp["from"] = record.mail_from
    if record.mail_parameters:
        smtp["mail_parameters"] = list(record.mail_parameters)
    if record.mail_reply is not None:
        smtp["mail"] = _reply(record.mail_reply)
    smtp["to"] = list(record.accepted)
    if record.rejected:
        smtp["rejected"] = [{"address": r.address, "code": r.code, "text": r.text} for r in record.rejected]
    if record.recipients:
        smtp["recipients"] = [{"address": r.address, "code": r.code} for r in record.recipients]
    if record.data_reply is not None:
        smtp["data"] = _reply(record.data_reply)
    if record.message_size is not None:
        smtp["size"] = record.message_size
    headers = dict(record.headers)
    if "subject" in headers:
        smtp["subject"] = headers["subject"]
    if "message-id" in headers:
        smtp["message_id"] = headers["message-id"]
    kept = {field: headers[name] for name, field in _HEADERS if name in headers}
    if kept:
        smtp["headers"] = kept
    smtp["pipelined"] = record.pipelined
    if record.commands:
        smtp["commands"] = list(record.commands)
