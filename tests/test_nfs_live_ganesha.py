"""A real NFS server: nfs-ganesha (Debian's package, its in-memory FSAL) with rpcbind, in a network
namespace the test creates, driven by libnfs's userspace clients (nfs-cp, nfs-ls, nfs-cat) over NFSv3
and NFSv4, recorded with tcpdump on the namespace's loopback and replayed. The kernel NFS server cannot
run here (no nfsd filesystem in this kernel), ganesha can.

Expected values are the clients' own results (a copy and two listings succeed, reading a missing file
fails with NOENT) and tshark's dissection of the same capture (every NFS call's xid, procedure, status).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

TOOLS = ("ganesha.nfsd", "rpcbind", "nfs-cp", "nfs-ls", "nfs-cat", "tcpdump", "tshark", "ip")
V3_NAMES = {0: "NULL", 1: "GETATTR", 3: "LOOKUP", 7: "WRITE", 8: "CREATE", 2: "SETATTR", 17: "READDIRPLUS",
            19: "FSINFO", 21: "COMMIT", 4: "ACCESS", 6: "READ", 16: "READDIR", 18: "FSSTAT", 20: "PATHINFO"}


def _cannot_run() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"not installed: {' '.join(missing)} (apt-get install nfs-ganesha nfs-ganesha-mem libnfs-utils rpcbind)"
    if os.geteuid() != 0:
        return "needs root for a network namespace"
    return None


pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.skipif(_cannot_run() is not None,
                                                                     reason=str(_cannot_run()))]

CONFIG = """
NFS_CORE_PARAM {{ Protocols = 3, 4; NFS_Port = 2049; Enable_NLM = false; Enable_RQUOTA = false; }}
NFSV4 {{ Graceless = true; RecoveryBackend = fs; RecoveryRoot = "{root}/recovery"; }}
NFS_KRB5 {{ Active_krb5 = false; }}
EXPORT {{ Export_ID = 1; Path = "/mem"; Pseudo = "/mem"; Access_Type = RW; Squash = No_Root_Squash;
         Protocols = 3, 4; Transports = TCP; SecType = sys; FSAL {{ Name = MEM; }} }}
LOG {{ Default_Log_Level = EVENT; }}
"""


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("ganesha")
    ns = f"nfs-test-{os.getpid()}"
    (root / "recovery").mkdir()
    (root / "ganesha.conf").write_text(CONFIG.format(root=root))
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace")
    procs: list[subprocess.Popen[Any]] = []
    try:
        subprocess.run(_in(ns, "ip", "link", "set", "lo", "up"), check=True)
        procs.append(subprocess.Popen(_in(ns, "rpcbind", "-f"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(_in(ns, "ganesha.nfsd", "-F", "-f", str(root / "ganesha.conf"), "-L",
                                          str(root / "ganesha.log"), "-p", str(root / "ganesha.pid")),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(150):
            listening = subprocess.run(_in(ns, "ss", "-ltn"), capture_output=True, text=True).stdout
            if ":2049 " in listening or procs[-1].poll() is not None:
                break
            time.sleep(0.1)
        if ":2049 " not in listening:
            pytest.skip(f"ganesha did not start: {(root / 'ganesha.log').read_text()[-500:]}")
        pcap = root / "nfs.pcap"
        dump = subprocess.Popen(_in(ns, "tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B", "65536", "-s", "0",
                                    "-w", str(pcap), "tcp port 2049"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(dump)
        assert dump.stderr is not None
        dump.stderr.readline()  # "listening on lo ...": tcpdump captures from here on
        local = root / "hello.txt"
        local.write_text("hello, nfs\n")
        results = {
            "cp3": subprocess.run(_in(ns, "nfs-cp", str(local), "nfs://127.0.0.1/mem/hello.txt?version=3"),
                                  capture_output=True, text=True, timeout=30),
            "ls3": subprocess.run(_in(ns, "nfs-ls", "nfs://127.0.0.1/mem/?version=3"), capture_output=True,
                                  text=True, timeout=30),
            "ls4": subprocess.run(_in(ns, "nfs-ls", "nfs://127.0.0.1/mem/?version=4"), capture_output=True,
                                  text=True, timeout=30),
            "cat4": subprocess.run(_in(ns, "nfs-cat", "nfs://127.0.0.1/mem/missing.txt?version=4"),
                                   capture_output=True, text=True, timeout=30),
        }
        time.sleep(1.0)
        _stop(dump)
        yield pcap, results
    finally:
        for proc in reversed(procs):
            _stop(proc)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def tshark_calls(pcap: Path) -> dict[tuple[str, int], dict[str, str]]:
    """Every NFS call and its reply's status, as tshark dissects them, by xid and client port."""
    fields = ["tcp.srcport", "tcp.dstport", "rpc.xid", "rpc.msgtyp", "rpc.programversion", "nfs.procedure_v3", "nfs.opcode", "nfs.status3",
              "nfs.nfsstat4"]
    # tshark gives a connection to the dissector of its lower port: libnfs's privileged client ports can be
    # another protocol's (547 is DHCPv6's bulk leasequery), so every client port is decoded as RPC.
    clients = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.dstport == 2049", "-T", "fields", "-e",
                              "tcp.srcport"], capture_output=True, text=True, check=True).stdout.split()
    decode_as = sum((["-d", f"tcp.port=={port},rpc"] for port in sorted(set(clients))), [])
    out = subprocess.run(["tshark", "-r", str(pcap), *decode_as, "-Y", "rpc.program == 100003 || rpc.msgtyp == 1",
                          "-T", "fields", *sum((["-e", f] for f in fields), [])],
                         capture_output=True, text=True, check=True).stdout
    calls: dict[tuple[str, int], dict[str, str]] = {}
    for line in out.splitlines():
        row = dict(zip(fields, line.split("\t"), strict=False))
        # One segment may carry several RPC messages: tshark then lists each field's values comma-separated.
        messages = list(zip(row["rpc.xid"].split(","), row["rpc.msgtyp"].split(","), strict=True))
        for xid_text, msgtyp in messages:
            xid = format(int(xid_text, 16), "08x")
            one = row if len(messages) == 1 else {**row, "nfs.opcode": "", "nfs.procedure_v3": "", "nfs.status3": "",
                                                   "nfs.nfsstat4": "", "several": "1"}
            if msgtyp == "0":
                calls.setdefault((xid, int(row["tcp.srcport"])), dict(one))
            elif (xid, int(row["tcp.dstport"])) in calls:
                status = (one.get("nfs.status3") or one.get("nfs.nfsstat4") or "").split(",")[0]
                calls[xid, int(row["tcp.dstport"])].setdefault("status", status)
    return calls


def test_every_call_is_one_event_with_tsharks_procedure_and_status(capture: tuple[Path, dict[str, Any]]) -> None:
    pcap, results = capture
    assert results["cp3"].returncode == 0 and results["ls3"].returncode == 0 and results["ls4"].returncode == 0
    events = events_from_pcap(str(pcap), {"packetshipper": {"flows": {"enabled": False},
                                                            "protocols": [{"type": "nfs"}]}})
    calls = tshark_calls(pcap)
    assert len(calls) >= 15  # NULL, FSINFO, GETATTR, CREATE, WRITE, COMMIT, READDIR(PLUS), compounds ...
    by_xid = {(e["rpc"]["xid"], e["client"]["port"]): e for e in events}
    assert set(by_xid) == set(calls), (sorted(set(by_xid) - set(calls)), sorted(set(calls) - set(by_xid)))
    assert len(events) == len(by_xid)  # one event per call, a retransmitted call included once
    for xid, row in calls.items():
        ev = by_xid[xid]
        version = int(row["rpc.programversion"].split(",")[0])
        assert ev["nfs"]["version"] == version and ev["network"]["protocol"] == f"nfsv{version}"
        assert ev["status"] == "OK" and ev["rpc"]["status"] == "success" and ev["rpc"]["auth_flavor"] == "unix"
        if row.get("several"):
            continue  # a segment of several messages: tshark's fields cannot be told apart per message
        if version == 3:
            assert ev["nfs"]["opcode"] == V3_NAMES[int(row["nfs.procedure_v3"])]
        elif row["nfs.opcode"]:
            assert ev["nfs"]["opcode"] in _v4_names(row["nfs.opcode"])
        expected_status = {"0": "NFS_OK", "2": "NFSERR_NOENT", "": "NFS_OK"}[row.get("status", "")]
        assert ev["nfs"]["status"] == expected_status


def _v4_names(opcodes: str) -> set[str]:
    names = {3: "ACCESS", 9: "GETATTR", 10: "GETFH", 15: "LOOKUP", 18: "OPEN", 22: "PUTFH", 24: "PUTROOTFH",
             26: "READDIR", 35: "SETCLIENTID", 36: "SETCLIENTID_CONFIRM", 53: "SEQUENCE", 25: "READ", 4: "CLOSE"}
    return {names[int(op)] for op in opcodes.split(",")}


def test_what_the_clients_did_is_what_the_events_say(capture: tuple[Path, dict[str, Any]]) -> None:
    pcap, results = capture
    events = events_from_pcap(str(pcap), {"packetshipper": {"flows": {"enabled": False},
                                                            "protocols": [{"type": "nfs"}]}})
    seen = {(e["nfs"]["version"], e["nfs"]["opcode"], e["nfs"]["status"]) for e in events}
    # nfs-cp created and wrote the file over v3; both listings read the directory
    assert {(3, "CREATE", "NFS_OK"), (3, "WRITE", "NFS_OK"), (3, "READDIRPLUS", "NFS_OK"),
            (4, "READDIR", "NFS_OK")} <= seen
    assert "hello.txt" in results["ls3"].stdout and "hello.txt" in results["ls4"].stdout
    # nfs-cat of a missing file failed with NOENT: exactly one event says so
    assert results["cat4"].returncode != 0 and "NOENT" in results["cat4"].stderr + results["cat4"].stdout
    failed = [e for e in events if e["nfs"]["status"] != "NFS_OK"]
    assert [(e["nfs"]["version"], e["nfs"]["status"]) for e in failed] == [(4, "NFSERR_NOENT")]
    assert all(e["event"]["action"] == "nfs." + e["nfs"]["opcode"] for e in events)
