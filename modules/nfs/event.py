"""The NFS event fields (`rpc.*`, `nfs.*`, `user.id`, `group.id`, `host.hostname`, ...): the only place naming them."""

from __future__ import annotations

from typing import Any

from packetshipper.event import duration_ns

from .codes import auth_flavor_name, nfs_status_name
from .correlator import NfsTransaction, reply_status_name
from .messages import RpcCall, RpcReply

__all__ = ["event_fields", "go_duration"]

_PROTOCOLS = {3: "nfsv3", 4: "nfsv4"}


def go_duration(ns: int) -> str:
    """A duration as Go's `time.Duration.String` writes it (Packetbeat's `rpc.time_str`): 1.092074s, 409.242ms, 1m2.5s."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_fraction(ns, 3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_fraction(ns, 6)}ms"
    seconds, rest = divmod(ns, 1_000_000_000)
    text = f"{seconds % 60}{_decimals(rest, 9)}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _fraction(value: int, places: int) -> str:
    whole, rest = divmod(value, 10**places)
    return f"{whole}{_decimals(rest, places)}"


def _decimals(rest: int, places: int) -> str:
    return "." + str(rest).rjust(places, "0").rstrip("0") if rest else ""


def event_fields(txn: NfsTransaction) -> dict[str, Any]:
    call: RpcCall | None = txn.request
    reply: RpcReply | None = txn.response
    rpc: dict[str, Any] = {}
    fields: dict[str, Any] = {"rpc": rpc}
    if call is not None:
        rpc["xid"] = f"{call.xid:08x}"
        rpc["call_size"] = call.size
        rpc["auth_flavor"] = auth_flavor_name(call.auth_flavor)
        _credentials(call, txn, rpc, fields)
        nfs_call = call.nfs
        if nfs_call is not None:
            nfs: dict[str, Any] = {"version": nfs_call.version}
            if nfs_call.tag is not None:
                nfs["tag"] = nfs_call.tag
            if nfs_call.minor_version is not None:
                nfs["minor_version"] = nfs_call.minor_version
            if nfs_call.opcode is not None:
                nfs["opcode"] = nfs_call.opcode
                fields["event"] = {"action": f"nfs.{nfs_call.opcode}"}
            fields["nfs"] = nfs
            fields["network"] = {"protocol": _PROTOCOLS.get(nfs_call.version, "nfs")}
            if reply is not None and reply.accepted and reply.status == 0:
                # NULL answers with no result; everything else starts its results with an nfsstat.
                if nfs_call.proc == 0:
                    nfs["status"] = "NFS_OK"
                elif reply.result is not None:
                    nfs["status"] = nfs_status_name(reply.result)
    else:
        assert reply is not None
        rpc["xid"] = f"{reply.xid:08x}"
    if reply is not None:
        rpc["reply_size"] = reply.size
        rpc["status"] = reply_status_name(reply)
        if call is not None:
            elapsed = duration_ns(call.ts, reply.ts)
            rpc["time"] = elapsed
            rpc["time_str"] = go_duration(elapsed)
    return fields


def _credentials(call: RpcCall, txn: NfsTransaction, rpc: dict[str, Any], fields: dict[str, Any]) -> None:
    cred = call.cred
    if cred is None:
        return
    machine = cred.machinename
    if machine:
        fields["source"] = {"domain": machine}
        fields["client"] = {"domain": machine}
    else:
        machine = txn.connection.client.ip  # Packetbeat's stand-in for an empty machinename
    rpc["cred"] = {"stamp": cred.stamp, "machinename": machine, "uid": cred.uid, "gid": cred.gid,
                   "gids": list(cred.gids)}
    # ECS keeps ids as keywords; Packetbeat writes the numbers, which its template indexes as keywords too.
    fields["user"] = {"id": str(cred.uid)}
    fields["group"] = {"id": str(cred.gid)}
    fields["host"] = {"hostname": machine}
