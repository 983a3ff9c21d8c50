"""What `-d nfs` says: a transaction in a few words, and why a record or message was dropped or counted."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .codes import nfs_status_name
from .correlator import reply_status_name
from .messages import RpcCall, RpcReply

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("nfs")

# Counter name -> what happened. Empty: the transaction line says it already.
REASONS = {
    "malformed_records": "an RPC record whose credential, NFS arguments or reply body do not decode: dropped",
    "records_truncated": "an RPC record longer than max_message_size: its head decoded, the rest skipped",
    "records_with_gaps": "an RPC record with lost bytes in its head: dropped",
    "incomplete_records": "the stream ended inside an RPC record: dropped",
    "other_program_calls": "a call to another RPC program (NFS_ACL, a v4.1 callback): not published",
    "other_program_calls_forgotten": "",
    "other_program_replies": "",
    "retransmitted_calls": "a call retransmitted with its xid: the newest copy waits for the reply",
    "pending_calls_evicted": "",
    "unmatched_replies": "",
    "unmatched_calls": "",
}


def _call_text(call: RpcCall) -> str:
    nfs = call.nfs
    if nfs is None:
        return f"xid {call.xid:08x} program {call.program}"
    return f"xid {call.xid:08x} v{nfs.version} {nfs.opcode or f'proc {nfs.proc}'}"


def describe(transaction: Transaction[Any, Any]) -> str:
    """`xid 0000000a v4 READDIR -> success NFS_OK`, or a half with `(no reply)`."""
    call: RpcCall | None = transaction.request
    reply: RpcReply | None = transaction.response
    if call is None:
        assert reply is not None
        return f"(no call) -> reply xid {reply.xid:08x} {reply_status_name(reply)}"
    if reply is None:
        return f"{_call_text(call)} -> (no reply)"
    answer = reply_status_name(reply)
    if reply.result is not None and reply.accepted and reply.status == 0:
        answer += f" {nfs_status_name(reply.result)}"
    return f"{_call_text(call)} -> {answer}"
