"""A capture built from the specifications' XDR (RFC 5531 record marking and AUTH_UNIX, RFC 1813 LOOKUP,
RFC 7530/8881 COMPOUND, a three-fragment record, a denied call, an unanswered one), checked two ways:
tshark dissects the same bytes as the test meant them (so the builder speaks the RFCs), and the
events say what tshark says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from packetshipper.modules.nfs import wire as w
from packetshipper.pcapgen import tcp_frame, write_pcap
from packetshipper.testing import events_from_pcap

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

CLIENT, SERVER, PORT = "198.51.100.7", "198.51.100.9", 811
FH = bytes(range(28))
CRED = w.unix_cred("builder.example", uid=4242, gid=100, gids=(100, 10), stamp=99)
EXCHANGES = [
    (w.call(0x1001, 3, 3, w.v3_lookup_args(FH, "notes.txt"), cred=CRED),
     w.accepted_reply(0x1001, 0, w.v3_status_result(2)), 1),
    (w.call(0x1002, 4, 1, w.compound_args([w.op(53, w.sequence_args()), w.op(22, w.putfh_args(FH)),
                                           w.op(26, w.readdir_args()), w.op(9, w.getattr_args(0x18, 2))],
                                          tag="readdir", minor_version=1), cred=CRED),
     w.accepted_reply(0x1002, 0, w.compound_result(0, [(53, 0), (22, 0), (26, 0)], tag="readdir")), 3),
    (w.call(0x1003, 3, 1, w.opaque(FH), cred=CRED), w.denied_reply(0x1003, 1), 1),
    (w.call(0x1004, 3, 21, w.opaque(FH) + w.u64(0) + w.u32(0), cred=CRED), None, 1),
]


@pytest.fixture(scope="module")
def pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nfs") / "spec.pcap"
    ts, cseq, sseq = 1_700_000_000.0, 100, 900
    frames = [(ts, tcp_frame(CLIENT, SERVER, PORT, 2049, flags="S", seq=cseq - 1)),
              (ts, tcp_frame(SERVER, CLIENT, 2049, PORT, flags="SA", seq=sseq - 1, ack=cseq)),
              (ts, tcp_frame(CLIENT, SERVER, PORT, 2049, seq=cseq, ack=sseq))]
    for call, reply, fragments in EXCHANGES:
        ts += 0.01
        data = w.record(call, fragments)
        frames.append((ts, tcp_frame(CLIENT, SERVER, PORT, 2049, data, flags="PA", seq=cseq, ack=sseq)))
        cseq += len(data)
        if reply is not None:
            data = w.record(reply)
            frames.append((ts + 0.002, tcp_frame(SERVER, CLIENT, 2049, PORT, data, flags="PA", seq=sseq, ack=cseq)))
            sseq += len(data)
    write_pcap(str(path), frames)
    return path


def tshark(path: Path, *fields: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "rpc", "-T", "fields",
                          *sum((["-e", f] for f in fields), [])], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_tshark_reads_the_built_bytes_as_meant(pcap: Path) -> None:
    rows = tshark(pcap, "rpc.xid", "rpc.msgtyp", "rpc.auth.machinename", "rpc.auth.uid", "nfs.procedure_v3",
                  "nfs.opcode", "nfs.tag", "nfs.status3", "rpc.replystat", "rpc.fraglen")
    assert [r[:2] for r in rows] == [["0x00001001", "0"], ["0x00001001", "1"], ["0x00001002", "0"],
                                     ["0x00001002", "1"], ["0x00001003", "0"], ["0x00001003", "1"],
                                     ["0x00001004", "0"]]
    lookup, _, compound, _, _, denied, commit = rows
    assert lookup[2:5] == ["builder.example", "4242", "3"] and rows[1][7] == "2"
    assert compound[5:7] == ["53,22,26,9", "readdir"]
    fragments = [int(n) for n in compound[9].split(",")]
    assert len(fragments) == 3 and sum(fragments) == len(EXCHANGES[1][0])
    assert denied[8] == "1" and commit[4] == "21"


def test_events_say_what_tshark_says(pcap: Path) -> None:
    events = events_from_pcap(str(pcap), {"packetshipper": {"flows": {"enabled": False},
                                                            "protocols": [{"type": "nfs"}]}})
    by_xid = {e["rpc"]["xid"]: e for e in events}
    assert sorted(by_xid) == ["00001001", "00001002", "00001003", "00001004"]
    lookup, readdir, denied, commit = (by_xid[x] for x in sorted(by_xid))
    assert (lookup["nfs"]["opcode"], lookup["nfs"]["status"], lookup["status"]) == ("LOOKUP", "NFSERR_NOENT", "OK")
    assert lookup["rpc"]["cred"]["uid"] == 4242 and lookup["user"]["id"] == "4242"
    assert readdir["nfs"] == {"version": 4, "minor_version": 1, "tag": "readdir", "opcode": "READDIR",
                              "status": "NFS_OK"}
    assert readdir["rpc"]["call_size"] == len(EXCHANGES[1][0])  # the three fragments' data, marks excluded
    assert (denied["status"], denied["rpc"]["status"]) == ("Error", "auth_error")
    assert (commit["status"], commit["error"]["message"], commit["nfs"]["opcode"]) == (
        "Error", "Unmatched request", "COMMIT")
