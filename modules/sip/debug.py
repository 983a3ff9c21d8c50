"""What `-d sip` says about a message."""

from __future__ import annotations

from typing import Any

from packetshipper.protocol import Transaction

from .event import exchange_of

__all__ = ["describe"]


def describe(transaction: Transaction[Any, Any]) -> str:
    """`INVITE sip:bob@example.com (CSeq 1 INVITE)` or `100 Trying (CSeq 1 INVITE)`."""
    exchange = exchange_of(transaction)
    msg = exchange.message
    what = f"{msg.method.upper()} {msg.uri}" if msg.is_request else f"{msg.code} {msg.phrase}".rstrip()
    side = "client" if exchange.from_client else "server"
    cseq = msg.last("cseq")
    return f"{what} from the {side}" + (f" (CSeq {cseq})" if cseq else "")
