"""Packetbeat's NFS system test (test_0061_nfs.py) on its own pcaps, every assertion, in both of its
versions: the older one (`rpc.time`, `rpc.time_str`, `rpc.call_size`, `rpc.reply_size`) and the ECS one
(`event.dataset`, `event.duration`, `source.bytes`, `destination.bytes`, `network.transport`,
`network.protocol`). Beyond those, each event is checked against tshark's dissection of the same
packets (xid, credential, record sizes, RPC time), and nfs_v4.pcap against Packetbeat's sample output,
which was made from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap


def flat(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run(data: Path, name: str) -> list[dict[str, Any]]:
    # render_config_template(nfs_ports=[2049]); flows off as in Packetbeat's system-test config
    events = events_from_pcap(str(data / name), {"packetshipper": {
        "flows": {"enabled": False}, "protocols": [{"type": "nfs", "ports": [2049]}]}})
    return [flat(e) for e in events]


def common(o: dict[str, Any]) -> None:
    assert o["type"] == "nfs"
    assert o["event.dataset"] == "nfs"
    assert o["rpc.auth_flavor"] == "unix"
    for key in ("rpc.time", "rpc.time_str", "rpc.call_size", "rpc.reply_size",
                "event.duration", "source.bytes", "destination.bytes"):
        assert key in o
    assert o["network.transport"] == "tcp"


def test_0061_v3(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data, "nfs_v3.pcap")
    assert len(objs) == 1
    o = objs[0]
    common(o)
    assert o["network.protocol"] == "nfsv3"
    assert o["nfs.version"] == 3
    assert o["nfs.opcode"] == "LOOKUP"
    assert o["nfs.status"] == "NFSERR_NOENT"


def test_0061_v4(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data, "nfs_v4.pcap")
    assert len(objs) == 1
    o = objs[0]
    common(o)
    assert o["network.protocol"] == "nfsv4"
    assert o["nfs.version"] == 4
    assert o["nfs.minor_version"] == 1
    assert o["nfs.tag"] == "readdir"
    assert o["nfs.opcode"] == "READDIR"
    assert o["nfs.status"] == "NFS_OK"


def test_0061_first_class_op(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data, "nfs4_close.pcap")
    assert len(objs) == 1
    assert objs[0]["nfs.opcode"] == "CLOSE"


def test_0061_first_class_op_v42(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data, "nfsv42_layoutstats.pcap")
    assert len(objs) == 1
    assert objs[0]["nfs.opcode"] == "LAYOUTSTATS"


def test_0061_clone_notsupp_v42(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data, "nfsv42_clone.pcap")
    assert len(objs) == 1
    assert objs[0]["nfs.opcode"] == "CLONE"
    assert objs[0]["nfs.status"] == "NFSERR_NOTSUPP"


# tshark -r <pcap> -Y rpc -T fields -e rpc.xid -e rpc.auth.machinename -e rpc.auth.uid -e rpc.auth.gid
#   -e rpc.fraglen -e rpc.time -e nfs.minorversion -e nfs.nfsstat4 / nfs.status3
TSHARK = {
    "nfs_v3.pcap": ("a19a75d0", "ani", 0, 0, 116, 32, 409_242_000, None, "NFSERR_NOENT"),
    "nfs_v4.pcap": ("00000008", "ani", 500, 500, 212, 152, 1_092_074_000, 1, "NFS_OK"),
    "nfs4_close.pcap": ("c3103fc1", "desycloud03.desy.de", 48, 48, 208, 176, 5_281_000, 1, "NFS_OK"),
    "nfsv42_clone.pcap": ("592d006f", "netapp20", 1000, 1000, 272, 112, 299_000, 2, "NFSERR_NOTSUPP"),
    "nfsv42_layoutstats.pcap": ("700b0de2", "ani", 0, 0, 452, 96, 193_000, 1, "NFSERR_OP_ILLEGAL"),
}


@pytest.mark.parametrize("name", sorted(TSHARK))
def test_fields_agree_with_tshark(packetbeat_data: Path, name: str) -> None:
    xid, machine, uid, gid, call_size, reply_size, elapsed, minor, status = TSHARK[name]
    (o,) = run(packetbeat_data, name)
    assert o["rpc.xid"] == xid
    assert o["rpc.cred.machinename"] == machine and o["source.domain"] == machine
    assert o["rpc.cred.uid"] == uid and o["user.id"] == str(uid)
    assert o["rpc.cred.gid"] == gid and o["group.id"] == str(gid)
    assert o["rpc.call_size"] == o["source.bytes"] == call_size
    assert o["rpc.reply_size"] == o["destination.bytes"] == reply_size
    assert o["rpc.time"] == o["event.duration"] == elapsed
    assert o.get("nfs.minor_version") == minor
    assert o["nfs.status"] == status
    assert o["rpc.status"] == "success" and o["status"] == "OK"
    assert o["event.action"] == "nfs." + o["nfs.opcode"]


def test_nfs_v4_matches_packetbeats_sample_output(packetbeat_data: Path) -> None:
    """_meta/sample_outputs/nfs.json came from nfs_v4.pcap (same xid, ports, sizes and credential)."""
    sample = json.loads((packetbeat_data / "sample_outputs" / "nfs.json").read_text())
    (o,) = run(packetbeat_data, "nfs_v4.pcap")
    assert {k[4:]: v for k, v in o.items() if k.startswith("nfs.")} == sample["nfs"]
    assert {k[4:]: v for k, v in o.items() if k.startswith("rpc.")} == flat(sample["rpc"])
    assert o["status"] == sample["status"]
    assert (o["client.ip"], o["client.port"]) == (sample["client"]["ip"], sample["client"]["port"])
    assert (o["server.ip"], o["server.port"]) == (sample["server"]["ip"], sample["server"]["port"])


def test_go_duration_text_matches_gos() -> None:
    """rpc.time_str is Go's time.Duration.String(); these pairs are from Go's own time package tests."""
    from packetshipper.modules.nfs.event import go_duration

    cases = {0: "0s", 1: "1ns", 1_100: "1.1µs", 2_200_000: "2.2ms", 3_300_000_000: "3.3s",
             245_000_000_000: "4m5s", 245_001_000_000: "4m5.001s", 18_367_001_000_000: "5h6m7.001s",
             480_000_000_001: "8m0.000000001s", -1_100: "-1.1µs", 3_600_000_000_000: "1h0m0s"}
    assert {ns: go_duration(ns) for ns in cases} == cases


def test_the_credential_machine_name_is_host_hostname_in_the_published_event() -> None:
    # tshark -T fields -e rpc.auth.machinename on nfs_v3.pcap: "ani". The envelope keeps host.name.
    from packetshipper.testing import run_pcap

    path = Path(__file__).parent / "pcaps" / "packetbeat" / "nfs_v3.pcap"
    events = run_pcap(str(path), {"packetshipper": {"protocols": [{"type": "nfs"}], "flows": {"enabled": False}}}).events
    assert events and all(e["host"]["hostname"] == "ani" and e["host"]["name"] for e in events)
