"""The ICMP event fields (Packetbeat's `icmp.*`, `path`): the only place naming them."""

from __future__ import annotations

import socket
from typing import Any

from packetshipper import hotpath
from packetshipper.community_id import community_id
from packetshipper.protocol import Transaction

from .kinds import describe
from .messages import IcmpMessage

__all__ = ["icmp_event_fields"]

_compiled_community: Any = getattr(hotpath.compiled, "community_id", None)


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
    client, server = socket.inet_pton(family, conn.client.ip), socket.inet_pton(family, conn.server.ip)
    if _compiled_community is not None and hotpath.enabled:  # the same string, computed in C
        network["community_id"] = _compiled_community(proto, client, server, first.type, first.code, community_id)
    else:
        network["community_id"] = community_id(proto, client, server, first.type, first.code)
    return {
        "icmp": icmp,
        "path": conn.server.ip,
        "network": network,
        "event": {"type": ["connection"]},
    }
