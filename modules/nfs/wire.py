"""Wire bytes of ONC RPC (RFC 5531) NFS v3 (RFC 1813) and v4 (RFC 7530, RFC 8881) messages, in meaning:
a LOOKUP call with this credential, a COMPOUND of these operations. For tests and benchmark captures."""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = [
    "u32", "u64", "opaque", "record", "unix_cred", "call", "accepted_reply", "denied_reply",
    "v3_lookup_args", "v3_status_result", "compound_args", "compound_result", "op",
    "sequence_args", "putfh_args", "getattr_args", "lookup_args", "readdir_args", "close_args",
]

NFS_PROGRAM = 100003


def u32(*values: int) -> bytes:
    return struct.pack(f"!{len(values)}I", *values)


def u64(value: int) -> bytes:
    return struct.pack("!Q", value)


def opaque(data: bytes) -> bytes:
    """Variable-length opaque: length, data, zero padding to four bytes."""
    return u32(len(data)) + data + b"\0" * (-len(data) % 4)


def record(message: bytes, fragments: int = 1) -> bytes:
    """`message` behind record marks, split into `fragments` fragments (the last one flagged)."""
    size = max(1, -(-len(message) // fragments))
    parts = [message[i : i + size] for i in range(0, len(message), size)] or [b""]
    out = b""
    for i, part in enumerate(parts):
        out += u32(len(part) | (0x80000000 if i == len(parts) - 1 else 0)) + part
    return out


def unix_cred(machinename: str = "client", uid: int = 1000, gid: int = 1000, gids: Sequence[int] = (),
              stamp: int = 0) -> tuple[int, bytes]:
    """AUTH_UNIX (flavor 1) credential body, RFC 5531 appendix A."""
    return 1, u32(stamp) + opaque(machinename.encode()) + u32(uid, gid, len(gids), *gids)


def call(xid: int, version: int, proc: int, args: bytes = b"", cred: tuple[int, bytes] | None = None,
         program: int = NFS_PROGRAM) -> bytes:
    """A CALL message: RPC version 2, AUTH_NONE verifier; AUTH_NONE credential unless `cred` is given."""
    flavor, body = cred if cred is not None else (0, b"")
    return u32(xid, 0, 2, program, version, proc, flavor) + opaque(body) + u32(0, 0) + args


def accepted_reply(xid: int, accept_stat: int = 0, results: bytes = b"") -> bytes:
    """A MSG_ACCEPTED reply with an AUTH_NONE verifier."""
    return u32(xid, 1, 0, 0, 0, accept_stat) + results


def denied_reply(xid: int, reject_stat: int = 1, detail: bytes = b"") -> bytes:
    """A MSG_DENIED reply: RPC_MISMATCH (0, then low and high) or AUTH_ERROR (1, then an auth_stat)."""
    return u32(xid, 1, 1, reject_stat) + (detail or (u32(2, 2) if reject_stat == 0 else u32(1)))


def v3_lookup_args(fh: bytes, name: str) -> bytes:
    """LOOKUP3args: diropargs3 (nfs_fh3 dir, filename3 name)."""
    return opaque(fh) + opaque(name.encode())


def v3_status_result(status: int) -> bytes:
    """The start of most v3 results: nfsstat3, then post_op_attr absent."""
    return u32(status, 0)


def op(opcode: int, args: bytes = b"") -> bytes:
    return u32(opcode) + args


def compound_args(ops: Sequence[bytes], tag: str = "", minor_version: int = 0) -> bytes:
    """COMPOUND4args: tag, minorversion, argarray."""
    return opaque(tag.encode()) + u32(minor_version, len(ops)) + b"".join(ops)


def compound_result(status: int, results: Sequence[tuple[int, int]] = (), tag: str = "") -> bytes:
    """COMPOUND4res: status, tag, resarray of (opcode, status) pairs (no result bodies)."""
    return u32(status) + opaque(tag.encode()) + u32(len(results)) + b"".join(u32(o, s) for o, s in results)


def sequence_args(sessionid: bytes = b"\x01" * 16, seq: int = 1, slot: int = 0, highest: int = 0,
                  cachethis: bool = False) -> bytes:
    return sessionid[:16].ljust(16, b"\0") + u32(seq, slot, highest, int(cachethis))


def putfh_args(fh: bytes) -> bytes:
    return opaque(fh)


def getattr_args(*words: int) -> bytes:
    return u32(len(words), *words)


def lookup_args(name: str) -> bytes:
    return opaque(name.encode())


def readdir_args(cookie: int = 0, dircount: int = 8192, maxcount: int = 32768, attrs: Sequence[int] = (0x18,)) -> bytes:
    """READDIR4args: cookie, cookieverf, dircount, maxcount, attr_request."""
    return u64(cookie) + b"\0" * 8 + u32(dircount, maxcount, len(attrs), *attrs)


def close_args(seqid: int = 1, stateid: bytes = b"\x02" * 12) -> bytes:
    """CLOSE4args: seqid, open_stateid (seqid, other[12])."""
    return u32(seqid, 1) + stateid[:12].ljust(12, b"\0")
