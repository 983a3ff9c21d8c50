"""The ICMP event fields (Packetbeat's `icmp.*`, `path`): the only place naming them."""

from __future__ import annotations

import socket
from typing import Any

from packetshipper.community_id import community_id
from packetshipper.protocol import Transaction

from .kinds import describe
from .messages import IcmpMessage

__all__ = ["icmp_event_fields"]


def _message(msg: IcmpMessage) -> dict[str, Any]:
    return {"message": describe(msg.version, msg.type, msg.code), "type": msg.type, "code": msg.code}


def icmp_event_fields(txn: Transaction[IcmpMessage, IcmpMessage]) -> dict[str, Any]:
    conn = txn.connection
    first = txn.request or txn.response
    assert first is not None
    icmp: dict[str, Any] = {"version": first.version}
    if txn.request is not None:
        icmp["request"] = _message(txn.request)
    if txn.response is not None:
        icmp["response"] = _message(txn.response)
    network: dict[str, Any] = {"transport": "icmp" if first.version == 4 else "ipv6-icmp"}
    # For ICMP the flow hash covers the type and code of the message that opened the exchange.
    family = socket.AF_INET if conn.ip_version == 4 else socket.AF_INET6
    proto = 1 if first.version == 4 else 58
    network["community_id"] = community_id(
        proto, socket.inet_pton(family, conn.client.ip), socket.inet_pton(family, conn.server.ip),
        first.type, first.code)
    return {
        "icmp": icmp,
        "path": conn.server.ip,
        "network": network,
        "event": {"type": ["connection"]},
    }
