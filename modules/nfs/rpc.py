"""One RPC record (RFC 5531 section 9) into an `RpcCall` or `RpcReply`, and NFS calls into what Packetbeat reports.

`check_head` looks at a record's first 12 bytes as soon as they arrive, so a stream whose framing was
lost is noticed before its lying record length is waited out. `decode_record` raises
`NfsProtocolError` when the RPC header itself is wrong (the stream is not RPC, or not in step), and
`MalformedRecord` when only the credential, NFS arguments or reply body of a well-framed record are.
"""

from __future__ import annotations

import struct

from .codes import NFS_PROGRAM, V4_FIRST_CLASS, V4_OPERATIONS, v3_procedure_name
from .messages import NfsCall, RpcCall, RpcReply, UnixCred
from .xdr import NfsProtocolError, XdrCursor

__all__ = ["MalformedRecord", "check_head", "decode_record", "HEAD_SIZE"]

CALL, REPLY = 0, 1
RPC_VERSION = 2
MSG_ACCEPTED, MSG_DENIED = 0, 1
AUTH_UNIX = 1
MAX_AUTH_BODY = 400  # RFC 5531 section 8.2
HEAD_SIZE = 12
_HEAD = struct.Struct("!III")

V4_NULL, V4_COMPOUND = 0, 1
_SESSIONID_AND_SLOT = 16 + 4 * 4  # sessionid4, sequenceid, slotid, highest_slotid, cachethis


class MalformedRecord(NfsProtocolError):
    """A record whose framing and RPC header are sound but whose credential, NFS arguments or reply body
    are not: that one message is dropped (counted), the stream stays in step."""


def check_head(head: bytes) -> None:
    """Raise unless `head` (a record's first 12 bytes) begins an RPC call or reply."""
    _xid, msg_type, third = _HEAD.unpack_from(head)
    if msg_type == CALL:
        if third != RPC_VERSION:
            raise NfsProtocolError(f"RPC call of version {third}, not 2: not RPC, or out of step")
    elif msg_type == REPLY:
        if third not in (MSG_ACCEPTED, MSG_DENIED):
            raise NfsProtocolError(f"RPC reply_stat {third}: not RPC, or out of step")
    else:
        raise NfsProtocolError(f"RPC msg_type {msg_type}: not RPC, or out of step")


def decode_record(record: bytes, ts: float, size: int, truncated: bool) -> RpcCall | RpcReply:
    """Decode one record (`truncated`: only its first bytes were kept; `size` is its whole length)."""
    if len(record) < HEAD_SIZE:
        raise NfsProtocolError(f"RPC record of {len(record)} bytes, shorter than any RPC message")
    check_head(record)
    cursor = XdrCursor(record)
    xid = cursor.u32("xid")
    if cursor.u32("msg_type") == CALL:
        return _call(cursor, xid, ts, size, truncated)
    return _reply(cursor, xid, ts, size)


def _call(cursor: XdrCursor, xid: int, ts: float, size: int, truncated: bool) -> RpcCall:
    cursor.u32("rpcvers")
    program = cursor.u32("prog")
    version = cursor.u32("vers")
    proc = cursor.u32("proc")
    if program != NFS_PROGRAM:
        return RpcCall(xid, ts, size, program, version, proc, 0, None, None)
    try:
        flavor = cursor.u32("cred flavor")
        body = cursor.var_opaque("cred body")
        if len(body) > MAX_AUTH_BODY:
            raise MalformedRecord(f"credential of {len(body)} bytes, over {MAX_AUTH_BODY}")
        cred = _unix_cred(body) if flavor == AUTH_UNIX else None
        cursor.u32("verf flavor")
        cursor.skip_var_opaque("verf body")
        nfs = _nfs_call(cursor, version, proc, truncated)
    except MalformedRecord:
        raise
    except NfsProtocolError as error:
        raise MalformedRecord(str(error)) from None
    return RpcCall(xid, ts, size, program, version, proc, flavor, cred, nfs)


def _unix_cred(body: bytes) -> UnixCred:
    cred = XdrCursor(body)
    stamp = cred.u32("stamp")
    machine = cred.var_opaque("machinename").decode("utf-8", "backslashreplace")
    return UnixCred(stamp, machine, cred.u32("uid"), cred.u32("gid"), cred.u32_array("gids"))


def _nfs_call(cursor: XdrCursor, version: int, proc: int, truncated: bool) -> NfsCall:
    if version == 3:
        return NfsCall(version, proc, v3_procedure_name(proc))
    if version == 4 and proc == V4_NULL:
        return NfsCall(version, proc, "NULL")
    if version == 4 and proc == V4_COMPOUND:
        tag = cursor.var_opaque("COMPOUND tag").decode("utf-8", "backslashreplace")
        minor = cursor.u32("COMPOUND minorversion")
        return NfsCall(version, proc, _main_operation(cursor, truncated), minor, tag)
    return NfsCall(version, proc, None)


def _main_operation(cursor: XdrCursor, truncated: bool) -> str:
    """The first first-class operation of the COMPOUND's argarray, else its last one ("ILLEGAL" if none)."""
    name = "ILLEGAL"
    count = cursor.u32("COMPOUND argarray")
    for _ in range(count):
        if truncated and cursor.remaining < 4:
            break  # the rest of a long record was not kept: name it by what was seen
        op = cursor.u32("operation")
        known = V4_OPERATIONS.get(op)
        if known is None:
            return "ILLEGAL"
        name = known
        if op in V4_FIRST_CLASS:
            break
        try:
            _skip_arguments(cursor, op)
        except NfsProtocolError:
            if truncated:
                break
            raise
    return name


def _skip_arguments(cursor: XdrCursor, op: int) -> None:
    """Step over the arguments of a supporting operation (RFC 7530 section 16, RFC 8881 section 18)."""
    if op == 9:  # GETATTR: bitmap4
        cursor.u32_array("GETATTR attr_request")
    elif op in (15, 22, 33):  # LOOKUP, PUTFH, SECINFO: one variable-length opaque
        cursor.skip_var_opaque("operation argument")
    elif op in (17, 37):  # NVERIFY, VERIFY: fattr4
        cursor.u32_array("fattr4 attrmask")
        cursor.skip_var_opaque("fattr4 attr_vals")
    elif op == 30:  # RENEW: clientid4
        cursor.u64("RENEW clientid")
    elif op == 53:  # SEQUENCE
        cursor.opaque(_SESSIONID_AND_SLOT, "SEQUENCE arguments")
    # GETFH, LOOKUPP, PUTPUBFH, PUTROOTFH, RESTOREFH, SAVEFH, ILLEGAL: no arguments


def _reply(cursor: XdrCursor, xid: int, ts: float, size: int) -> RpcReply:
    try:
        return _reply_body(cursor, xid, ts, size)
    except NfsProtocolError as error:
        raise MalformedRecord(str(error)) from None


def _reply_body(cursor: XdrCursor, xid: int, ts: float, size: int) -> RpcReply:
    if cursor.u32("reply_stat") == MSG_DENIED:
        return RpcReply(xid, ts, size, False, cursor.u32("reject_stat"), None)
    cursor.u32("verf flavor")
    cursor.skip_var_opaque("verf body")
    status = cursor.u32("accept_stat")
    result = cursor.u32("nfsstat") if status == 0 and cursor.remaining >= 4 else None
    return RpcReply(xid, ts, size, True, status, result)
