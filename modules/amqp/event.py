"""Packetbeat's AMQP event fields: the only place naming them."""

from __future__ import annotations

from typing import Any

from packetshipper.event import OMIT
from packetshipper.protocol import Endpoint, Transaction
from packetshipper.records import record

from .correlator import Exchange

__all__ = ["EventOptions", "amqp_event_fields"]

_RESPONSE_BODIES = frozenset({"basic.deliver", "basic.return", "basic.get"})


@record
class EventOptions:
    parse_headers: bool = True
    parse_arguments: bool = True
    send_request: bool = False
    send_response: bool = False


def _stringable(fields: dict[str, Any]) -> bool:
    if fields.get("content-encoding"):
        return False
    content_type = str(fields.get("content-type") or "")
    return "text" in content_type or "json" in content_type


def _body_text(exchange: Exchange, size: int) -> str:
    message = exchange.request if exchange.request is not None and exchange.request.body_size else exchange.response
    body = message.body if message is not None else b""
    text = body.decode("utf-8", "replace") if _stringable(exchange.fields) else " ".join(str(b) for b in body)
    return text + " [...]" if len(body) < size else text


def _endpoint(endpoint: Endpoint, nbytes: int) -> dict[str, Any]:
    return {"ip": endpoint.ip, "port": endpoint.port, "mac": endpoint.mac or OMIT, "bytes": nbytes}


def amqp_event_fields(txn: Transaction[Any, Any], options: EventOptions) -> dict[str, Any]:
    exchange = txn.request
    assert isinstance(exchange, Exchange)
    method = exchange.method
    amqp = dict(exchange.fields)
    if not options.parse_headers:
        amqp.pop("headers", None)
    if not options.parse_arguments:
        amqp.pop("arguments", None)
    for key in ("headers", "arguments"):
        if key in amqp and not amqp[key]:
            del amqp[key]
    conn = txn.connection
    content = exchange.request if exchange.request is not None and exchange.response is None else None
    body_size = content.body_size if content is not None else 0
    sent, received = txn.request_bytes, txn.response_bytes
    if method == "basic.publish":
        sent = body_size
    elif method in _RESPONSE_BODIES and content is not None:
        sent, received = 0, body_size
    elif method == "basic.get" and exchange.response is not None:
        received = exchange.response.body_size
    # Deliveries keep the connection's orientation (Packetbeat's tuple); requests name their sender.
    delivery = method in _RESPONSE_BODIES
    forward = exchange.from_client or delivery
    src, dst = (conn.client, conn.server) if forward else (conn.server, conn.client)
    fields: dict[str, Any] = {
        "method": method,
        "amqp": amqp,
        "event": {"action": f"amqp.{method}"},
        "source": _endpoint(src, sent),
        "destination": _endpoint(dst, received),
        "client": _endpoint(src, sent),
        "server": _endpoint(dst, received),
        "network": {"bytes": sent + received},
    }
    if exchange.response is None and txn.status.value == "OK":
        fields["event"]["outcome"] = "success"
    if "user-id" in amqp:
        fields["user"] = {"id": amqp["user-id"]}
    if options.send_request:
        fields["request"] = _body_text(exchange, body_size) if method == "basic.publish" else method
    if options.send_response:
        if method in _RESPONSE_BODIES:
            size = body_size if content is not None else (exchange.response.body_size if exchange.response else 0)
            fields["response"] = _body_text(exchange, size)
        else:
            fields["response"] = "OK" if exchange.response is not None else OMIT
    return fields
