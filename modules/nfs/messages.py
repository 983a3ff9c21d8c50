"""What the record reader returns: ONC RPC calls and replies (RFC 5531), with the NFS parts Packetbeat reports."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["UnixCred", "NfsCall", "RpcCall", "RpcReply"]


@record
class UnixCred:
    """An AUTH_UNIX (AUTH_SYS) credential, RFC 5531 appendix A."""

    stamp: int
    machinename: str
    uid: int
    gid: int
    gids: tuple[int, ...]


@record
class NfsCall:
    """The NFS side of a call: the procedure and, for a v4 COMPOUND, its tag, minor version and main operation."""

    version: int
    proc: int
    opcode: str | None
    minor_version: int | None = None
    tag: str | None = None


@record
class RpcCall:
    """A CALL message. `nfs` is None for another program's call (NFS_ACL, a v4.1 backchannel callback)."""

    xid: int
    ts: float
    size: int  # the record's length, without the record marks (Packetbeat's rpc.call_size)
    program: int
    version: int
    proc: int
    auth_flavor: int
    cred: UnixCred | None
    nfs: NfsCall | None


@record
class RpcReply:
    """A REPLY message. `accepted` is MSG_ACCEPTED; `status` is then its accept_stat, else its reject_stat.

    `result` is the first word of a successful reply's results, the nfsstat3 or nfsstat4 of an NFS
    procedure other than NULL; None when the reply ends before it.
    """

    xid: int
    ts: float
    size: int
    accepted: bool
    status: int
    result: int | None
