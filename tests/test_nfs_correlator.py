"""Pairing RPC calls and replies by xid, per direction; unanswered calls, orphan replies, other
programs, retransmissions, the pending bound; and the event fields each transaction makes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.nfs import MODULE
from packetshipper.modules.nfs import wire as w
from packetshipper.modules.nfs.correlator import NO_REPLY, TOO_MANY_PENDING, NfsCorrelator
from packetshipper.modules.nfs.record import RecordParser
from packetshipper.protocol import (
    COMMON_SETTINGS,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)
from packetshipper.settings import validate

CONN = Connection("tcp", 4, Endpoint("192.0.2.10", 801), Endpoint("192.0.2.20", 2049))
REQ, RESP = Direction.REQUEST, Direction.RESPONSE
CRED = w.unix_cred("ws1", uid=501, gid=20, gids=(20, 12), stamp=77)


def msg(data: bytes, ts: float) -> Any:
    (m,) = RecordParser(65536, lambda *a: None).receive_data(w.record(data), ts)
    return m


def correlator(max_pending: int = 8, timeout: float = 60.0) -> tuple[NfsCorrelator, Counter[str]]:
    counts: Counter[str] = Counter()
    return NfsCorrelator(CONN, timeout, max_pending, lambda n, k=1: counts.update({n: k})), counts


def event(txn: Any) -> dict[str, Any]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "nfs"}))
    ev = transaction_event("nfs", txn, module.event_fields(txn))
    assert validate_event(ev) == []
    return ev


def test_a_call_and_its_reply_make_one_ok_transaction_with_packetbeats_fields() -> None:
    c, counts = correlator()
    call = msg(w.call(0x10, 3, 3, w.v3_lookup_args(b"fh", "x"), cred=CRED), 1.0)
    assert c.on_message(REQ, call, 1.0) == []
    (txn,) = c.on_message(RESP, msg(w.accepted_reply(0x10, 0, w.v3_status_result(2)), 1.25), 1.25)
    assert txn.status is Status.OK and txn.request_bytes == call.size
    ev = event(txn)
    assert ev["rpc"] == {"xid": "00000010", "call_size": call.size, "reply_size": 32, "auth_flavor": "unix",
                         "status": "success", "time": 250_000_000, "time_str": "250ms",
                         "cred": {"stamp": 77, "machinename": "ws1", "uid": 501, "gid": 20, "gids": [20, 12]}}
    assert ev["nfs"] == {"version": 3, "opcode": "LOOKUP", "status": "NFSERR_NOENT"}
    assert ev["network"]["protocol"] == "nfsv3" and ev["event"]["action"] == "nfs.LOOKUP"
    assert ev["user"] == {"id": "501"} and ev["group"] == {"id": "20"} and ev["host"] == {"hostname": "ws1"}
    assert ev["source"]["domain"] == ev["client"]["domain"] == "ws1"
    assert ev["status"] == "OK" and ev["event"]["outcome"] == "success" and not counts


def test_null_is_nfs_ok_without_a_result_and_an_empty_machinename_is_the_clients_address() -> None:
    c, _ = correlator()
    c.on_message(REQ, msg(w.call(1, 4, 0, cred=w.unix_cred("", uid=0, gid=0)), 1.0), 1.0)
    (txn,) = c.on_message(RESP, msg(w.accepted_reply(1), 1.1), 1.1)
    ev = event(txn)
    assert ev["nfs"] == {"version": 4, "opcode": "NULL", "status": "NFS_OK"}
    assert ev["rpc"]["cred"]["machinename"] == ev["host"]["hostname"] == "192.0.2.10"
    assert "domain" not in ev["source"]


def test_replies_pair_by_xid_in_any_order() -> None:
    c, _ = correlator()
    for xid in (1, 2, 3):
        c.on_message(REQ, msg(w.call(xid, 3, 1), float(xid)), float(xid))
    got = [t.request.xid for xid in (3, 1, 2) for t in c.on_message(RESP, msg(w.accepted_reply(xid, 0, w.u32(0)), 5.0), 5.0)]
    assert got == [3, 1, 2] and c.pending == 0


def test_a_failed_or_denied_call_is_an_error_with_the_rpc_status() -> None:
    c, _ = correlator()
    c.on_message(REQ, msg(w.call(1, 3, 1), 1.0), 1.0)
    c.on_message(REQ, msg(w.call(2, 3, 1), 1.0), 1.0)
    (unavail,) = c.on_message(RESP, msg(w.accepted_reply(1, 1), 2.0), 2.0)
    (denied,) = c.on_message(RESP, msg(w.denied_reply(2, 1), 2.0), 2.0)
    for txn, status in ((unavail, "prog_unavail"), (denied, "auth_error")):
        ev = event(txn)
        assert ev["status"] == "Error" and ev["event"]["outcome"] == "failure"
        assert ev["rpc"]["status"] == status and "status" not in ev["nfs"]
        assert ev["error"]["message"] == f"RPC call failed: {status}"


def test_a_reply_without_its_call_is_published_alone_as_an_error() -> None:
    c, counts = correlator()
    (txn,) = c.on_message(RESP, msg(w.accepted_reply(9, 0, w.u32(0)), 1.0), 1.0)
    ev = event(txn)
    assert ev["status"] == "Error" and ev["error"]["message"] == UNMATCHED_RESPONSE
    assert ev["rpc"] == {"xid": "00000009", "reply_size": txn.response.size, "status": "success"}
    assert counts == {"unmatched_replies": 1}


def test_a_reply_matches_only_a_call_that_went_the_other_way() -> None:
    c, counts = correlator()
    c.on_message(REQ, msg(w.call(5, 3, 1), 1.0), 1.0)
    (orphan,) = c.on_message(REQ, msg(w.accepted_reply(5, 0, w.u32(0)), 1.1), 1.1)
    assert orphan.request is None and c.pending == 1


def test_other_programs_calls_and_their_replies_are_dropped_quietly() -> None:
    c, counts = correlator()
    assert c.on_message(REQ, msg(w.call(5, 3, 1, program=100227), 1.0), 1.0) == []
    assert c.on_message(RESP, msg(w.accepted_reply(5, 0, w.u32(0)), 1.1), 1.1) == []
    assert counts == {"other_program_calls": 1, "other_program_replies": 1}


def test_a_retransmitted_call_waits_once() -> None:
    c, counts = correlator()
    c.on_message(REQ, msg(w.call(5, 3, 1), 1.0), 1.0)
    assert c.on_message(REQ, msg(w.call(5, 3, 1), 2.0), 2.0) == []
    (txn,) = c.on_message(RESP, msg(w.accepted_reply(5, 0, w.u32(0)), 2.5), 2.5)
    assert txn.start == 2.0 and c.pending == 0 and counts == {"retransmitted_calls": 1}


def test_unanswered_calls_expire_after_transaction_timeout_and_flush_at_close() -> None:
    c, counts = correlator(timeout=60.0)
    c.on_message(REQ, msg(w.call(1, 3, 1), 1.0), 1.0)
    c.on_message(REQ, msg(w.call(2, 3, 1), 30.0), 30.0)
    assert c.expire(60.9) == []
    (first,) = c.expire(61.0)
    assert first.request.xid == 1 and first.error == NO_REPLY and event(first)["status"] == "Error"
    (second,) = c.close(62.0)
    assert second.request.xid == 2 and counts == {"unmatched_calls": 2} and c.pending == 0


def test_beyond_max_pending_calls_the_oldest_is_published_unanswered() -> None:
    c, counts = correlator(max_pending=3)
    closed = [t for xid in range(5) for t in c.on_message(REQ, msg(w.call(xid, 3, 1), 1.0), 1.0)]
    assert [t.request.xid for t in closed] == [0, 1] and all(t.error == TOO_MANY_PENDING for t in closed)
    assert c.pending == 3 and counts == {"pending_calls_evicted": 2}
    for xid in range(10, 20):
        c.on_message(REQ, msg(w.call(xid, 3, 1, program=100227), 1.0), 1.0)
    assert c.pending == 6  # 3 NFS calls and 3 remembered other-program xids


def test_describe_says_what_happened() -> None:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "nfs"}))
    c, _ = correlator()
    c.on_message(REQ, msg(w.call(0xAB, 4, 1, w.compound_args([w.op(24), w.op(26, w.readdir_args())])), 1.0), 1.0)
    (txn,) = c.on_message(RESP, msg(w.accepted_reply(0xAB, 0, w.compound_result(0)), 1.1), 1.1)
    assert module.describe(txn) == "xid 000000ab v4 READDIR -> success NFS_OK"
    (lost,) = c.on_message(RESP, msg(w.denied_reply(7), 1.2), 1.2)
    assert module.describe(lost) == "(no call) -> reply xid 00000007 auth_error"
