"""Packetbeat's memcache system tests on their own pcaps, every assertion: test_0040 (text and binary
over TCP) and test_0041 (text and binary over UDP). Their field names are Packetbeat's flat dotted
keys; the old top-level `client_ip`, `ip`, `port`, `transport` are ECS's `client.ip`, `server.ip`,
`server.port`, `network.transport` now. Expected values are those tests' own."""

from __future__ import annotations

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


def run(packetbeat_data: Path, name: str, protocol_type: str, transport: str, **options: Any) -> list[dict[str, Any]]:
    events = events_from_pcap(str(packetbeat_data / "memcache" / name), {"packetshipper": {
        "flows": {"enabled": False}, "protocols": [{"type": "memcache", **options}]}})
    objs = [flat(e) for e in events]
    # assert_common
    assert objs
    assert all(o["client.ip"] == "192.168.188.37" for o in objs)
    assert all(o["server.ip"] == "192.168.188.38" for o in objs)
    assert all(o["server.port"] == 11211 for o in objs)
    assert all(o["type"] == "memcache" for o in objs)
    assert all(o["network.transport"] == transport for o in objs)
    assert all(o["memcache.protocol_type"] == protocol_type for o in objs)
    return objs


# --- test_0040_memcache_tcp_text_basic --------------------------------------------------------------
def tcp_text(data: Path, name: str) -> list[dict[str, Any]]:
    return run(data, name, "text", "tcp")


def test_0040_text_store_load(packetbeat_data: Path) -> None:
    objs = tcp_text(packetbeat_data, "memcache_text_tcp_single_load_store.pcap")
    assert all(o["status"] == "OK" for o in objs)
    set_ = objs[0]
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["test_key"]
    assert set_["memcache.request.exptime"] == 0
    assert set_["memcache.request.bytes"] == 2046
    assert set_["memcache.request.count_values"] == 1
    assert not set_["memcache.request.noreply"]
    assert set_["memcache.response.type"] == "Success"
    get = objs[1]
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.keys"] == ["test_key"]
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.response.type"] == "Load"
    assert get["memcache.response.count_values"] == 1
    assert get["memcache.response.keys"] == ["test_key"]


def test_0040_text_multi_store_load(packetbeat_data: Path) -> None:
    objs = tcp_text(packetbeat_data, "memcache_text_tcp_multi_store_load.pcap")
    assert all(o["status"] == "OK" for o in objs)
    sets = {o["memcache.request.keys"][0]: o for o in objs[0:3]}
    assert sorted(sets) == ["k1", "k2", "k3"]
    assert sets["k1"]["memcache.request.bytes"] == 100
    assert sets["k2"]["memcache.request.bytes"] == 20
    assert sets["k3"]["memcache.request.bytes"] == 10
    assert all(o["memcache.response.type"] == "Success" for o in sets.values())
    get = objs[3]
    assert get["memcache.request.keys"] == ["x", "k1", "k2", "k3", "y"]
    assert get["memcache.response.keys"] == ["k1", "k2", "k3"]
    assert get["memcache.response.bytes"] == 130
    assert get["memcache.response.count_values"] == 3


def test_0040_text_counter_ops(packetbeat_data: Path) -> None:
    objs = tcp_text(packetbeat_data, "memcache_text_tcp_counter_ops.pcap")
    assert all(o["status"] == "OK" for o in objs)
    set_, inc, dec, get, _ = objs
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["cnt"]
    assert inc["memcache.request.command"] == "incr"
    assert inc["memcache.request.delta"] == 2
    assert inc["memcache.request.keys"] == ["cnt"]
    assert inc["memcache.response.value"] == 2
    assert dec["memcache.request.command"] == "decr"
    assert dec["memcache.request.delta"] == 5
    assert dec["memcache.request.keys"] == ["cnt"]
    assert dec["memcache.response.value"] == 0
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.request.keys"] == ["cnt"]


def test_0040_text_delete(packetbeat_data: Path) -> None:
    objs = tcp_text(packetbeat_data, "memcache_text_tcp_delete.pcap")
    assert all(o["status"] == "OK" for o in objs)
    set_, delete, get, _ = objs
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["key"]
    assert delete["memcache.request.command"] == "delete"
    assert delete["memcache.request.type"] == "Delete"
    assert delete["memcache.request.keys"] == ["key"]
    assert delete["memcache.response.type"] == "Success"
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.request.keys"] == ["key"]
    assert get["memcache.response.command"] == "END"  # no keys


def test_0040_text_stats(packetbeat_data: Path) -> None:
    objs = tcp_text(packetbeat_data, "memcache_text_tcp_stats.pcap")
    assert all(o["status"] == "OK" for o in objs)
    trans = objs[2]
    assert trans["memcache.request.command"] == "stats"
    assert "memcache.request.raw_args" in trans
    assert trans["memcache.request.type"] == "Stats"
    assert trans["memcache.response.command"] == "STAT"
    assert trans["memcache.response.type"] == "Stats"
    entries = trans["memcache.response.stats"]
    assert all(e["name"] and e["value"] for e in entries)
    assert len(entries) == 52  # the STAT lines in the 1154-byte reply (frame 12, payload from tshark)


# --- test_0040_memcache_tcp_bin_basic ---------------------------------------------------------------
def tcp_bin(data: Path, name: str) -> list[dict[str, Any]]:
    return run(data, name, "binary", "tcp")


def test_0040_bin_store_load(packetbeat_data: Path) -> None:
    objs = tcp_bin(packetbeat_data, "memcache_bin_tcp_single_load_store.pcap")
    assert all(o["status"] == "OK" for o in objs)
    set_ = objs[0]
    assert set_["memcache.request.opcode"] == "Set"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["test_key"]
    assert set_["memcache.request.exptime"] == 0
    assert set_["memcache.request.bytes"] == 2046
    assert set_["memcache.request.count_values"] == 1
    assert set_["memcache.response.opcode"] == "Set"
    assert set_["memcache.response.status"] == "Success"
    assert "memcache.response.cas_unique" in set_
    assert set_["memcache.request.opaque"] == set_["memcache.response.opaque"]
    get = objs[1]
    assert get["memcache.request.opcode"] == "GetK"
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.keys"] == ["test_key"]
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.response.type"] == "Load"
    assert get["memcache.response.count_values"] == 1
    assert get["memcache.response.bytes"] == 2046
    assert get["memcache.response.keys"] == ["test_key"]
    assert "memcache.response.cas_unique" in get
    assert get["memcache.request.opaque"] == get["memcache.response.opaque"]


def test_0040_bin_multi_store_load(packetbeat_data: Path) -> None:
    objs = tcp_bin(packetbeat_data, "memcache_bin_tcp_multi_store_load.pcap")
    assert all(o["status"] == "OK" for o in objs)
    sets = {o["memcache.request.keys"][0]: o for o in objs[0:3]}
    assert sorted(sets) == ["k1", "k2", "k3"]
    assert sets["k1"]["memcache.request.bytes"] == 100
    assert sets["k2"]["memcache.request.bytes"] == 20
    assert sets["k3"]["memcache.request.bytes"] == 10
    assert all(o["memcache.request.opcode"] == "Set" for o in sets.values())
    assert all("memcache.response.cas_unique" in o for o in sets.values())
    assert all(o["memcache.response.status"] == "Success" for o in sets.values())
    assert all(o["memcache.request.opaque"] == o["memcache.response.opaque"] for o in sets.values())
    gets = {o["memcache.request.keys"][0]: o for o in objs[3:8]}
    assert all(o["memcache.request.opcode"] == "GetKQ" for o in gets.values())
    assert all(o["memcache.request.command"] == "get" for o in gets.values())
    assert all(o["memcache.request.quiet"] for o in gets.values())
    assert "memcache.response.opcode" not in gets["x"]
    assert "memcache.response.opcode" not in gets["y"]
    hits = {k: v for k, v in gets.items() if k in ["k1", "k2", "k3"]}
    assert len(hits) == 3
    assert all("memcache.response.cas_unique" in o for o in hits.values())
    assert all(o["memcache.response.status"] == "Success" for o in hits.values())
    assert all(o["memcache.request.opaque"] == o["memcache.response.opaque"] for o in hits.values())
    noop = objs[8]
    assert noop["memcache.request.command"] == "noop"
    assert noop["memcache.request.opaque"] == noop["memcache.response.opaque"]


def test_0040_bin_counter_ops(packetbeat_data: Path) -> None:
    objs = tcp_bin(packetbeat_data, "memcache_bin_tcp_counter_ops.pcap")
    assert all(o["status"] == "OK" for o in objs)
    set_, inc, dec, get, _ = objs
    assert set_["memcache.request.opcode"] == "Set"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["cnt"]
    assert set_["memcache.request.exptime"] == 0
    assert set_["memcache.request.bytes"] == 1
    assert set_["memcache.request.count_values"] == 1
    assert set_["memcache.response.opcode"] == "Set"
    assert set_["memcache.response.status"] == "Success"
    assert "memcache.response.cas_unique" in set_
    assert set_["memcache.request.opaque"] == set_["memcache.response.opaque"]
    assert inc["memcache.request.opcode"] == "Increment"
    assert inc["memcache.request.command"] == "incr"
    assert inc["memcache.request.delta"] == 2
    assert inc["memcache.request.initial"] == 0
    assert inc["memcache.request.keys"] == ["cnt"]
    assert inc["memcache.response.value"] == 2
    assert inc["memcache.request.opaque"] == inc["memcache.response.opaque"]
    assert dec["memcache.request.opcode"] == "Decrement"
    assert dec["memcache.request.command"] == "decr"
    assert dec["memcache.request.delta"] == 5
    assert dec["memcache.request.initial"] == 0
    assert dec["memcache.request.keys"] == ["cnt"]
    assert dec["memcache.response.value"] == 0
    assert dec["memcache.request.opaque"] == dec["memcache.response.opaque"]
    assert get["memcache.request.opcode"] == "GetK"
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.keys"] == ["cnt"]
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.response.type"] == "Load"
    assert get["memcache.response.count_values"] == 1
    assert get["memcache.response.bytes"] == 1
    assert get["memcache.response.keys"] == ["cnt"]
    assert "memcache.response.cas_unique" in get


def test_0040_bin_delete(packetbeat_data: Path) -> None:
    objs = tcp_bin(packetbeat_data, "memcache_bin_tcp_delete.pcap")
    set_, delete, get, _ = objs
    assert set_["status"] == "OK"
    assert set_["memcache.request.opcode"] == "Set"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["key"]
    assert set_["memcache.request.opaque"] == set_["memcache.response.opaque"]
    assert delete["status"] == "OK"
    assert delete["memcache.request.opcode"] == "Delete"
    assert delete["memcache.request.command"] == "delete"
    assert delete["memcache.request.type"] == "Delete"
    assert delete["memcache.request.keys"] == ["key"]
    assert delete["memcache.response.status"] == "Success"
    assert get["status"] == "Error"
    assert get["memcache.request.command"] == "get"
    assert get["memcache.request.type"] == "Load"
    assert get["memcache.request.keys"] == ["key"]
    assert get["memcache.response.status"] == "Key not found"  # status 0x0001 in the reply header


def test_0040_bin_stats(packetbeat_data: Path) -> None:
    objs = tcp_bin(packetbeat_data, "memcache_bin_tcp_stats.pcap")
    assert all(o["status"] == "OK" for o in objs)
    trans = objs[2]
    assert trans["memcache.request.opcode"] == "Stat"
    assert trans["memcache.request.command"] == "stats"
    assert trans["memcache.request.type"] == "Stats"
    assert trans["memcache.response.type"] == "Stats"
    assert trans["memcache.request.opaque"] == trans["memcache.response.opaque"]
    entries = trans["memcache.response.stats"]
    assert all(e["name"] and e["value"] for e in entries)
    # tshark -d tcp.port==11211,memcache: 52 Stat replies with a key, then the one without that ends them
    assert len(entries) == 52 and entries[0] == {"name": "pid", "value": "1"}


# --- test_0041_memcache_udp_text_basic / udp_bin_basic (memcache_udp_transaction_timeout=10) ---------
def udp(data: Path, name: str, protocol_type: str) -> list[dict[str, Any]]:
    return run(data, name, protocol_type, "udp", udptransactiontimeout="10s")


def test_0041_text_store(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_text_udp_single_store.pcap", "text")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 1
    set_ = objs[0]
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["test_key"]
    assert set_["memcache.request.exptime"] == 0
    assert set_["memcache.request.bytes"] == 1024
    assert set_["memcache.request.count_values"] == 1
    assert set_["memcache.request.noreply"]


def test_0041_text_multi_store(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_text_udp_multi_store.pcap", "text")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 3
    sets = {o["memcache.request.keys"][0]: o for o in objs[0:3]}
    assert sorted(sets) == ["k1", "k2", "k3"]
    assert sets["k1"]["memcache.request.bytes"] == 100
    assert sets["k2"]["memcache.request.bytes"] == 20
    assert sets["k3"]["memcache.request.bytes"] == 10
    assert all(o["memcache.request.noreply"] for o in sets.values())


def test_0041_text_delete(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_text_udp_delete.pcap", "text")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 2
    delete, set_ = sorted(objs, key=lambda x: x["memcache.request.command"])
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["key"]
    assert set_["memcache.request.noreply"]
    assert delete["memcache.request.command"] == "delete"
    assert delete["memcache.request.type"] == "Delete"
    assert delete["memcache.request.keys"] == ["key"]
    assert delete["memcache.request.noreply"]


def test_0041_text_counter_ops(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_text_udp_counter_ops.pcap", "text")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 3
    dec, inc, set_ = sorted(objs, key=lambda x: x["memcache.request.command"])
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["cnt"]
    assert set_["memcache.request.noreply"]
    assert inc["memcache.request.command"] == "incr"
    assert inc["memcache.request.delta"] == 2
    assert inc["memcache.request.keys"] == ["cnt"]
    assert inc["memcache.request.noreply"]
    assert dec["memcache.request.command"] == "decr"
    assert dec["memcache.request.delta"] == 5
    assert dec["memcache.request.keys"] == ["cnt"]
    assert dec["memcache.request.noreply"]


def test_0041_bin_store(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_bin_udp_single_store.pcap", "binary")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 1
    set_ = objs[0]
    assert set_["memcache.request.opcode"] == "SetQ"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["test_key"]
    assert set_["memcache.request.exptime"] == 0
    assert set_["memcache.request.bytes"] == 1024
    assert set_["memcache.request.count_values"] == 1
    assert set_["memcache.request.quiet"]


def test_0041_bin_multi_store(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_bin_udp_multi_store.pcap", "binary")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 3
    sets = {o["memcache.request.keys"][0]: o for o in objs[0:3]}
    assert sorted(sets) == ["k1", "k2", "k3"]
    assert sets["k1"]["memcache.request.bytes"] == 100
    assert sets["k2"]["memcache.request.bytes"] == 20
    assert sets["k3"]["memcache.request.bytes"] == 10
    assert all(o["memcache.request.opcode"] == "SetQ" for o in sets.values())
    assert all(o["memcache.request.quiet"] for o in sets.values())


def test_0041_bin_delete(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_bin_udp_delete.pcap", "binary")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 2
    delete, set_ = sorted(objs, key=lambda x: x["memcache.request.command"])
    assert set_["memcache.request.opcode"] == "SetQ"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["key"]
    assert set_["memcache.request.quiet"]
    assert delete["memcache.request.opcode"] == "DeleteQ"
    assert delete["memcache.request.command"] == "delete"
    assert delete["memcache.request.type"] == "Delete"
    assert delete["memcache.request.keys"] == ["key"]
    assert delete["memcache.request.quiet"]


def test_0041_bin_counter_ops(packetbeat_data: Path) -> None:
    objs = udp(packetbeat_data, "memcache_bin_udp_counter_ops.pcap", "binary")
    assert all(o["status"] == "OK" for o in objs)
    assert len(objs) == 3
    dec, inc, set_ = sorted(objs, key=lambda x: x["memcache.request.command"])
    assert set_["memcache.request.opcode"] == "SetQ"
    assert set_["memcache.request.command"] == "set"
    assert set_["memcache.request.type"] == "Store"
    assert set_["memcache.request.keys"] == ["cnt"]
    assert set_["memcache.request.quiet"]
    assert inc["memcache.request.opcode"] == "IncrementQ"
    assert inc["memcache.request.command"] == "incr"
    assert inc["memcache.request.delta"] == 2
    assert inc["memcache.request.keys"] == ["cnt"]
    assert inc["memcache.request.quiet"]
    assert dec["memcache.request.opcode"] == "DecrementQ"
    assert dec["memcache.request.command"] == "decr"
    assert dec["memcache.request.delta"] == 5
    assert dec["memcache.request.keys"] == ["cnt"]
    assert dec["memcache.request.quiet"]


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parent / "pcaps" / "packetbeat"
                                                         / "memcache").glob("*.pcap")))
def test_every_memcache_pcap_gives_valid_events_without_protocol_errors(packetbeat_data: Path, name: str) -> None:
    from packetshipper.testing import run_pcap

    run_ = run_pcap(str(packetbeat_data / "memcache" / name), {"packetshipper": {
        "flows": {"enabled": False}, "protocols": [{"type": "memcache"}]}})  # events are schema-checked
    stats = run_.stats["protocols"]["modules"]["memcache"]
    assert stats["protocol_errors"] == 0 and stats["bugs"] == 0 and stats["unmatched"] == 0
