"""The RPC record reader: record marking (RFC 5531 section 11), calls and replies, NFS v3 procedures
and v4 COMPOUNDs, built from the RFCs' XDR and fed whole, one byte at a time and with trailing bytes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from packetshipper.modules.nfs import wire as w
from packetshipper.modules.nfs.messages import NfsCall, RpcCall, RpcReply, UnixCred
from packetshipper.modules.nfs.record import RecordParser
from packetshipper.protocol import ProtocolError

CRED = w.unix_cred("ws1.example", uid=501, gid=20, gids=(20, 12, 61), stamp=0x5F3759DF)
FH = bytes(range(32))


def parser(keep: int = 65536) -> tuple[RecordParser, Counter[str]]:
    counts: Counter[str] = Counter()
    return RecordParser(keep, lambda name, n=1: counts.update({name: n})), counts


def feed(data: bytes, how: str, keep: int = 65536) -> tuple[list[Any], Counter[str]]:
    p, counts = parser(keep)
    out: list[Any] = []
    if how == "whole":
        out += p.receive_data(data, 1.0)
    elif how == "bytewise":
        for i in range(len(data)):
            out += p.receive_data(data[i : i + 1], 1.0)
    else:  # trailing: the start of another record follows in the same segment
        out += p.receive_data(data + w.u32(0x80000040) + b"\0" * 7, 1.0)
    return out, counts


HOW = ["whole", "bytewise", "trailing"]


@pytest.mark.parametrize("how", HOW)
def test_v3_lookup_call_with_auth_unix(how: str) -> None:
    body = w.call(0xA19A75D0, 3, 3, w.v3_lookup_args(FH, "missing.txt"), cred=CRED)
    (msg,), counts = feed(w.record(body), how)
    assert msg == RpcCall(xid=0xA19A75D0, ts=1.0, size=len(body), program=100003, version=3, proc=3,
                          auth_flavor=1, cred=UnixCred(0x5F3759DF, "ws1.example", 501, 20, (20, 12, 61)),
                          nfs=NfsCall(3, 3, "LOOKUP"))
    assert not counts


@pytest.mark.parametrize("how", HOW)
def test_a_record_in_three_fragments_is_one_message_of_their_total_size(how: str) -> None:
    body = w.call(7, 3, 1, opaque_fh := w.opaque(FH), cred=CRED)
    assert opaque_fh
    (msg,), _ = feed(w.record(body, fragments=3), how)
    assert isinstance(msg, RpcCall) and msg.size == len(body) and msg.nfs == NfsCall(3, 1, "GETATTR")


@pytest.mark.parametrize("how", HOW)
def test_replies_accepted_denied_and_not_accepted(how: str) -> None:
    stream = (w.record(w.accepted_reply(1, 0, w.v3_status_result(2)))
              + w.record(w.accepted_reply(2, 1))
              + w.record(w.denied_reply(3, 1))
              + w.record(w.denied_reply(4, 0))
              + w.record(w.accepted_reply(5, 0)))
    msgs, _ = feed(stream, how)
    assert [(m.xid, m.accepted, m.status, m.result) for m in msgs] == [
        (1, True, 0, 2), (2, True, 1, None), (3, False, 1, None), (4, False, 0, None), (5, True, 0, None)]
    assert all(isinstance(m, RpcReply) for m in msgs)


def compound(*ops: bytes, tag: str = "", minor: int = 1) -> str | None:
    body = w.call(9, 4, 1, w.compound_args(ops, tag=tag, minor_version=minor), cred=CRED)
    (msg,), counts = feed(w.record(body), "whole")
    assert not counts
    assert msg.nfs.tag == tag and msg.nfs.minor_version == minor
    return msg.nfs.opcode  # type: ignore[no-any-return]


def test_compound_is_named_by_its_first_first_class_operation() -> None:
    seq, putfh, getattr_ = w.op(53, w.sequence_args()), w.op(22, w.putfh_args(FH)), w.op(9, w.getattr_args(0x18, 2))
    assert compound(seq, putfh, w.op(26, w.readdir_args()), getattr_, tag="readdir") == "READDIR"
    assert compound(seq, putfh, w.op(4, w.close_args()), getattr_) == "CLOSE"
    # SAVEFH, a second PUTFH, then CLONE (RFC 7862): the shape of nfsv42_clone.pcap
    assert compound(seq, putfh, w.op(32), putfh, w.op(71, b"\0" * 56), getattr_, minor=2) == "CLONE"
    # LOOKUP and NVERIFY arguments are stepped over to reach WRITE
    assert compound(w.op(24), w.op(15, w.lookup_args("dir")), w.op(17, w.getattr_args(1) + w.opaque(b"abcde")),
                    w.op(38, b"\0" * 28)) == "WRITE"
    assert compound(w.op(30, w.u64(0x1234)), minor=0) == "RENEW"


def test_compound_of_supporting_operations_only_is_named_by_its_last() -> None:
    assert compound(w.op(24), w.op(15, w.lookup_args("mem")), w.op(9, w.getattr_args(0x18)), w.op(10)) == "GETFH"
    assert compound(w.op(22, w.putfh_args(FH)), w.op(9, w.getattr_args(1, 2))) == "GETATTR"


def test_empty_or_unknown_operation_compound_is_illegal() -> None:
    assert compound() == "ILLEGAL"
    assert compound(w.op(22, w.putfh_args(FH)), w.op(9999)) == "ILLEGAL"


@pytest.mark.parametrize(("version", "proc", "opcode"), [
    (3, 0, "NULL"), (3, 10, "SYM_LINK"), (3, 11, "MKNODE"), (3, 17, "READDIRPLUS"), (3, 20, "PATHINFO"),
    (3, 21, "COMMIT"), (3, 22, "ILLEGAL"), (4, 0, "NULL"), (4, 7, None), (2, 4, None)])
def test_procedure_names(version: int, proc: int, opcode: str | None) -> None:
    (msg,), _ = feed(w.record(w.call(1, version, proc)), "whole")
    assert msg.nfs == NfsCall(version, proc, opcode) and msg.auth_flavor == 0 and msg.cred is None


def test_another_programs_call_has_no_nfs_part() -> None:
    (msg,), _ = feed(w.record(w.call(1, 3, 1, b"\0" * 40, cred=CRED, program=100227)), "whole")
    assert msg.program == 100227 and msg.nfs is None


@pytest.mark.parametrize("how", HOW)
def test_a_record_over_max_message_size_keeps_its_head_and_counts_its_whole_size(how: str) -> None:
    data = b"d" * 300_000
    write = w.call(11, 4, 1, w.compound_args([w.op(53, w.sequence_args()), w.op(22, w.putfh_args(FH)),
                                              w.op(38, b"\0" * 24 + w.opaque(data))]), cred=CRED)
    (msg,), counts = feed(w.record(write, fragments=5), how, keep=1024)
    assert msg.size == len(write) and msg.nfs.opcode == "WRITE"
    assert counts == {"records_truncated": 1}


def test_a_malformed_credential_drops_that_call_only() -> None:
    lying = w.u32(1, 0, 2, 100003, 3, 1, 1, 64) + b"\0" * 8  # credential body claims 64 bytes, has 8
    msgs, counts = feed(w.record(lying) + w.record(w.call(2, 3, 1)), "whole")
    assert [m.xid for m in msgs] == [2] and counts == {"malformed_records": 1}


def test_bytes_that_are_not_rpc_raise_protocol_error_within_a_record_head() -> None:
    p, _ = parser()
    with pytest.raises(ProtocolError):
        p.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1.0)
    p, _ = parser()
    with pytest.raises(ProtocolError):
        p.receive_data(w.record(w.u32(1, 0, 3) + b"\0" * 20), 1.0)  # RPC version 3
    p, _ = parser()
    with pytest.raises(ProtocolError):
        p.receive_data(w.record(b"\0\0\0\1\0\0\0\1"), 1.0)  # an 8-byte record: too short for RPC


def test_a_gap_in_a_skipped_tail_costs_nothing_in_the_head_drops_the_record_across_a_mark_raises() -> None:
    big = w.call(3, 3, 7, b"\0" * 4000, cred=CRED)
    marked = w.record(big)
    p, counts = parser(keep=512)
    assert p.receive_data(marked[:1000], 1.0) == []
    assert p.receive_gap(2000, 1.0) == []
    (msg,) = p.receive_data(marked[3000:], 1.0)
    assert msg.size == len(big) and msg.nfs.opcode == "WRITE"

    p, counts = parser(keep=4096)
    p.receive_data(marked[:1000], 1.0)
    p.receive_gap(2000, 1.0)
    assert p.receive_data(marked[3000:] + w.record(w.call(4, 3, 0)), 1.0)[0].xid == 4
    assert counts["records_with_gaps"] == 1

    p, _ = parser()
    p.receive_data(w.record(w.call(5, 3, 0)), 1.0)
    with pytest.raises(ProtocolError):
        p.receive_gap(10, 1.0)


def test_the_end_of_the_stream_inside_a_record_is_counted() -> None:
    p, counts = parser()
    p.receive_data(w.record(w.call(5, 3, 0))[:-3], 1.0)
    assert p.receive_eof(2.0) == [] and counts == {"incomplete_records": 1}


def test_a_message_carries_the_time_of_its_first_byte() -> None:
    p, _ = parser()
    data = w.record(w.call(6, 3, 0))
    assert p.receive_data(data[:3], 5.0) == []
    (msg,) = p.receive_data(data[3:], 6.0)
    assert msg.ts == 5.0
