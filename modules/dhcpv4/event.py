"""The DHCPv4 event fields (`dhcpv4.*`, and Packetbeat's endpoints): the only place naming them.

Packetbeat's source is the sender of the message and its destination the receiver; its client is the
DHCP client: the sender of a BOOTREQUEST, the receiver of a BOOTREPLY. The core's envelope puts the
flow's first sender on both, so they are set here, every key of each."""

from __future__ import annotations

from typing import Any, cast

from packetshipper.protocol import Endpoint, Transaction

from .messages import DhcpMessage
from .names import HARDWARE_TYPES, OPCODES
from .options import decode_options

__all__ = ["event_fields"]

BOOTREPLY = 2
BROADCAST = 0x8000
UNSPECIFIED = "0.0.0.0"


def _endpoint(endpoint: Endpoint, nbytes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": endpoint.ip, "bytes": nbytes}
    if endpoint.port:
        out["port"] = endpoint.port
    if endpoint.mac:
        out["mac"] = endpoint.mac
    return out


def event_fields(txn: Transaction[Any, Any]) -> dict[str, Any]:
    message = cast(DhcpMessage, txn.request)  # each dhcpv4 transaction is one message, its request
    conn = txn.connection
    sender, receiver = (conn.client, conn.server) if message.from_client else (conn.server, conn.client)
    source, destination = _endpoint(sender, message.size), _endpoint(receiver, 0)
    client, server = (destination, source) if message.op == BOOTREPLY else (source, destination)
    dhcp: dict[str, Any] = {
        "op_code": OPCODES.get(message.op) or f"unknown ({message.op})",
        "hardware_type": HARDWARE_TYPES.get(message.htype, "Invalid"),
        "hops": message.hops,
        "transaction_id": f"0x{message.xid:08x}",
        "seconds": message.secs,
        "flags": "broadcast" if message.flags & BROADCAST else "unicast",
        "client_mac": ":".join(f"{b:02x}" for b in message.chaddr),
    }
    related = {conn.client.ip, conn.server.ip}
    for field, address in (("client_ip", message.ciaddr), ("assigned_ip", message.yiaddr),
                           ("server_ip", message.siaddr), ("relay_ip", message.giaddr)):
        if address != UNSPECIFIED:
            dhcp[field] = address
            related.add(address)
    if message.sname:
        dhcp["server_name"] = message.sname.decode("utf-8", "replace")
    if message.file:
        dhcp["boot_file_name"] = message.file.decode("utf-8", "replace")
    options, notes = decode_options(message.options)
    if options:
        dhcp["option"] = options
    fields: dict[str, Any] = {
        "dhcpv4": dhcp,
        "source": source,
        "destination": destination,
        "client": dict(client),
        "server": dict(server),
        "related": {"ip": sorted(related)},
    }
    if notes:
        fields["notes"] = list(txn.notes) + notes
    return fields
