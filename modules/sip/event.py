"""Packetbeat's SIP event fields: the only place naming them. One event per message.

Packetbeat's choices are kept where its golden files show them, even odd ones: `sip.contact.*` is read
from the To header, `network.iana_number` is "17" over TCP too, `sip.private.uri.*` is the raw
P-Associated-URI value read as a URI. The sender of the message is `source` and `client`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from packetshipper.event import OMIT
from packetshipper.protocol import Endpoint, Transaction
from packetshipper.records import record

from .messages import Exchange, SipMessage
from .sdp import parse_sdp
from .uri import Uri, leading_int, parse_name_addr, parse_uri

__all__ = ["EventOptions", "sip_event_fields", "exchange_of"]

_SDP = "application/sdp"


@record
class EventOptions:
    parse_authorization: bool = True
    parse_body: bool = True
    keep_original: bool = True


class _Related:
    """related.* lists in first-seen order, without duplicates or empty values."""

    __slots__ = ("users", "hosts", "ips")

    def __init__(self) -> None:
        self.users: list[str] = []
        self.hosts: list[str] = []
        self.ips: list[str] = []

    @staticmethod
    def _add(into: list[str], value: str) -> None:
        if value and value not in into:
            into.append(value)

    def user(self, value: str) -> None:
        self._add(self.users, value)

    def host(self, value: str) -> None:
        self._add(self.hosts, value)

    def ip(self, value: str) -> None:
        self._add(self.ips, value)


def exchange_of(txn: Transaction[Any, Any]) -> Exchange:
    exchange = txn.request if txn.request is not None else txn.response
    assert isinstance(exchange, Exchange)
    return exchange


def _uri_fields(uri: Uri, related: _Related, *, with_user: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"original": uri.original}
    if uri.scheme:
        out["scheme"] = uri.scheme
    if with_user and uri.username and uri.username not in (" ", "-"):
        out["username"] = uri.username
        related.user(uri.username)
    if uri.host:
        out["host"] = uri.host
    if uri.port:
        out["port"] = uri.port
    related.host(uri.host)
    return out


def _name_addr(value: str | None, related: _Related) -> tuple[dict[str, Any], Uri, dict[str, str]] | None:
    if not value:
        return None
    addr = parse_name_addr(value)
    uri = parse_uri(addr.uri)
    out: dict[str, Any] = {"uri": _uri_fields(uri, related)}
    if addr.display_info:
        out["display_info"] = addr.display_info
    return out, uri, addr.params


def _comma_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip(" ").lower() for item in value.split(",")]


def _headers(msg: SipMessage, sip: dict[str, Any], related: _Related, options: EventOptions,
             event: dict[str, Any]) -> None:
    allow, supported = _comma_list(msg.last("allow")), _comma_list(msg.last("supported"))
    if allow:
        sip["allow"] = allow
    if supported:
        sip["supported"] = supported
    call_id = msg.last("call-id")
    if call_id:
        sip["call_id"] = call_id
    length = leading_int(msg.last("content-length") or "")
    if length:
        sip["content_length"] = length
    content_type = (msg.last("content-type") or "").lower()
    if content_type:
        sip["content_type"] = content_type
    forwards = leading_int(msg.last("max-forwards") or "")
    if forwards:
        sip["max_forwards"] = forwards
    agent = msg.last("user-agent")
    if agent:
        sip["user_agent"] = {"original": agent}
    via = msg.all("via")
    if via:
        sip["via"] = {"original": via}
    private = msg.first("p-associated-uri")
    if private:
        sip["private"] = {"uri": _uri_fields(parse_uri(private), related)}
    accept = msg.first("accept")
    if accept:
        sip["accept"] = accept.lower()
    cseq = (msg.last("cseq") or "").split(" ")
    if len(cseq) == 2:
        sip["cseq"] = {"code": leading_int(cseq[0]), "method": cseq[1].upper()}
    for name in ("from", "to"):
        parsed = _name_addr(msg.last(name), related)
        if parsed is not None:
            fields, _, params = parsed
            if params.get("tag"):
                fields["tag"] = params["tag"]
            sip[name] = fields
    if msg.first("contact") is not None:
        # Packetbeat fills sip.contact from the To header (its golden files show it); kept for parity.
        parsed = _name_addr(msg.last("to"), related)
        if parsed is not None:
            fields, uri, params = parsed
            expires = leading_int(params.get("expires", ""))
            if expires:
                fields["expires"] = expires
            if uri.params.get("line"):
                fields["line"] = uri.params["line"]
            if uri.params.get("transport"):
                fields["transport"] = uri.params["transport"].lower()
            sip["contact"] = fields
    if options.parse_authorization:
        _authorization(msg, sip, related, event)


def _authorization(msg: SipMessage, sip: dict[str, Any], related: _Related, event: dict[str, Any]) -> None:
    auth = (msg.first("authorization") or "").strip()
    scheme, space, params = auth.partition(" ")
    if not space:
        return
    out: dict[str, Any] = {"scheme": scheme}
    for param in params.split(","):
        kv = param.split("=", 1)
        if len(kv) != 2:
            continue
        key, value = kv[0].strip().lower(), kv[1].strip("'\" \t")
        if key == "realm":
            out["realm"] = value
        elif key == "username" and value not in ("", "-"):
            event["user"] = {"name": value}
            related.user(value)
        elif key == "uri":
            uri = parse_uri(value)
            out["uri"] = {k: v for k, v in _uri_fields(uri, _Related(), with_user=False).items()}
    sip["auth"] = out


def _body(msg: SipMessage, sip: dict[str, Any], related: _Related) -> None:
    media_type = (msg.last("content-type") or "").split(";")[0].strip().lower()
    if not msg.has_content_length or media_type != _SDP or msg.first("content-encoding"):
        return
    text = msg.body.decode("utf-8", "replace")
    sdp = parse_sdp(text)
    out: dict[str, Any] = {"body": {"original": text}}
    if sdp.version:
        out["version"] = sdp.version
    owner = {k: v for k, v in (("username", sdp.owner_username), ("session_id", sdp.owner_session_id),
                               ("version", sdp.owner_version)) if v}
    if sdp.owner_ip and _is_ip(sdp.owner_ip):
        owner["ip"] = sdp.owner_ip
        related.ip(sdp.owner_ip)
    related.user(sdp.owner_username)
    if owner:
        out["owner"] = owner
    if sdp.session_name:
        out["session"] = {"name": sdp.session_name}
    if sdp.connection_info:
        out["connection"] = {"info": sdp.connection_info, "address": sdp.connection_address}
        related.host(sdp.connection_address)
    sip["sdp"] = out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    return {"ip": endpoint.ip, "port": endpoint.port or OMIT, "mac": endpoint.mac or OMIT, "bytes": OMIT}


def sip_event_fields(txn: Transaction[Any, Any], options: EventOptions) -> dict[str, Any]:
    exchange = exchange_of(txn)
    msg = exchange.message
    conn = txn.connection
    sender, receiver = (conn.client, conn.server) if exchange.from_client else (conn.server, conn.client)
    related = _Related()
    sip: dict[str, Any] = {"version": msg.version}
    event: dict[str, Any] = {}
    if msg.is_request:
        sip["type"] = "request"
        sip["method"] = msg.method.upper()
        sip["uri"] = _uri_fields(parse_uri(msg.uri), related)
    else:
        sip["type"] = "response"
        sip["code"] = msg.code
        if msg.phrase:
            sip["status"] = msg.phrase
    _headers(msg, sip, related, options, event)
    if options.parse_body:
        _body(msg, sip, related)
    related.ip(sender.ip)
    related.ip(receiver.ip)
    cseq = sip.get("cseq", {})
    code = msg.code
    outcome = OMIT if code < 200 else "failure" if code > 299 else "success"
    action = msg.method if msg.is_request else cseq.get("method", "")
    fields: dict[str, Any] = {
        "sip": sip,
        "event": {
            "kind": "event",
            "category": ["network", "authentication"] if msg.first("authorization") is not None else ["network"],
            "type": ["info", "protocol"],
            "action": f"sip-{action.lower()}",
            "sequence": cseq.get("code") or OMIT,
            "reason": msg.phrase or OMIT,
            "outcome": outcome,
            "original": msg.raw.decode("utf-8", "replace") if options.keep_original else OMIT,
        },
        "network": {"application": "sip", "iana_number": "17", "bytes": OMIT},
        "source": _endpoint(sender),
        "destination": _endpoint(receiver),
        "client": _endpoint(sender),
        "server": _endpoint(receiver),
        "related": {"ip": related.ips, "user": related.users or OMIT, "hosts": related.hosts or OMIT},
    }
    if "user" in event:
        fields["user"] = event["user"]
    return fields
