"""NFS over TCP: connections of 10 calls each, alternately NFSv3 (LOOKUP, GETATTR, READ with 4 KB of
data, WRITE of 4 KB) and NFSv4.1 COMPOUNDs (SEQUENCE+PUTFH+READDIR+GETATTR, SEQUENCE+PUTFH+GETATTR,
SEQUENCE+PUTFH+CLOSE), AUTH_UNIX credentials, each call in its segment and its reply in the next, with
handshake and FIN."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.modules.nfs import wire as w
from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "nfs"}]
SERVER = "192.0.2.149"
PER_CONNECTION = 10
FH = bytes(range(32))
CRED = w.unix_cred("bench-client", uid=1000, gid=1000, gids=(1000, 27))
DATA = b"d" * 4096
SEQ, PUTFH, GETATTR = w.op(53, w.sequence_args()), w.op(22, w.putfh_args(FH)), w.op(9, w.getattr_args(0x18, 2))


def _v3(xid: int) -> tuple[bytes, bytes]:
    kind = xid % 4
    if kind == 0:
        return (w.call(xid, 3, 3, w.v3_lookup_args(FH, f"file{xid % 1000}"), cred=CRED),
                w.accepted_reply(xid, 0, w.v3_status_result(2 if xid % 8 == 0 else 0)))
    if kind == 1:
        return w.call(xid, 3, 1, w.opaque(FH), cred=CRED), w.accepted_reply(xid, 0, w.u32(0) + b"\0" * 84)
    if kind == 2:
        return (w.call(xid, 3, 6, w.opaque(FH) + w.u64(0) + w.u32(4096), cred=CRED),
                w.accepted_reply(xid, 0, w.v3_status_result(0) + w.u32(4096, 1) + w.opaque(DATA)))
    return (w.call(xid, 3, 7, w.opaque(FH) + w.u64(0) + w.u32(4096, 2) + w.opaque(DATA), cred=CRED),
            w.accepted_reply(xid, 0, w.v3_status_result(0) + b"\0" * 24))


def _v4(xid: int) -> tuple[bytes, bytes]:
    kind = xid % 3
    ops = [[SEQ, PUTFH, w.op(26, w.readdir_args()), GETATTR], [SEQ, PUTFH, GETATTR], [SEQ, PUTFH, w.op(4, w.close_args())]][kind]
    return (w.call(xid, 4, 1, w.compound_args(ops, tag=("readdir", "", "close")[kind], minor_version=1), cred=CRED),
            w.accepted_reply(xid, 0, w.compound_result(0, [(53, 0), (22, 0)])))


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.149.{(conn >> 8) & 255}.{conn & 255}", 700 + conn % 300
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 2049, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 2049, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 2049, seq=cseq, ack=sseq)
        ts += 0.0003
        exchange = _v3 if conn % 2 == 0 else _v4
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            call, reply = exchange(conn * PER_CONNECTION + n)
            request, response = w.record(call), w.record(reply)
            yield ts, tcp_frame(client, SERVER, sport, 2049, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 2049, sport, response, flags="PA", seq=sseq, ack=cseq)
            sseq += len(response)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 2049, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 2049, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
