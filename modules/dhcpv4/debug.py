"""What `-d dhcpv4` says about a message, in a few words."""

from __future__ import annotations

from typing import Any, cast

from packetshipper.protocol import Transaction

from .messages import DhcpMessage

__all__ = ["describe"]


def describe(transaction: Transaction[Any, Any]) -> str:
    """`discover 0x00003d1d from 00:0b:82:01:fc:42`, `offer 0x00003d1d: 192.168.0.10`."""
    message = cast(DhcpMessage, transaction.request)  # each dhcpv4 transaction is one message, its request
    kind = next((v for c, v in message.options if c == 53), b"")
    what = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak", 7: "release",
            8: "inform"}.get(kind[0] if len(kind) == 1 else 0, "message")
    mac = ":".join(f"{b:02x}" for b in message.chaddr)
    assigned = f": {message.yiaddr}" if message.yiaddr != "0.0.0.0" else ""
    return f"{what} 0x{message.xid:08x} for {mac}{assigned}"
