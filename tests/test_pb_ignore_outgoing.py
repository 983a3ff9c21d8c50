"""`packetshipper.ignore_outgoing` (`packetbeat.ignore_outgoing`): transactions this host starts are not
reported; flows are, as Packetbeat 8's flows bypass its transaction publisher (packetbeat/beater setupFlows).

Expected verdicts follow Packetbeat 8's host-based direction (packetbeat/pb/event.go hostBasedDirection,
packetbeat/publish/publish.go): the destination is tested first (this host's address, loopback,
link-local unicast or multicast: incoming, kept), then the source (one of those: outgoing, dropped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper import outgoing
from packetshipper.outgoing import LocalAddresses, OutgoingFilter
from packetshipper.pcapgen import dns_a_response, dns_query, tcp_frame, udp_frame, write_pcap
from packetshipper.testing import run_pcap

LOCAL, LOCAL6 = "192.0.2.10", "2001:db8::10"  # this host, in the tests
REMOTE, CLIENT = "198.51.100.53", "203.0.113.7"
T0 = 1_700_000_000.0


def _event(source: str, destination: str) -> dict[str, Any]:
    return {"source": {"ip": source}, "destination": {"ip": destination}}


@pytest.mark.parametrize(("source", "destination", "dropped"), [
    (LOCAL, REMOTE, True),  # this host to another: egress
    (LOCAL6, "2001:db8:ffff::1", True),
    (REMOTE, LOCAL, False),  # ingress
    (LOCAL, LOCAL, False),  # to itself: the destination is tested first
    ("127.0.0.1", REMOTE, True),  # a loopback source is this host's
    ("169.254.1.1", REMOTE, True),  # link-local unicast
    ("fe80::1", "2001:db8:ffff::1", True),
    (LOCAL, "224.0.0.251", False),  # link-local multicast destination (mDNS): ingress
    (LOCAL, "ff02::fb", False),
    (LOCAL, "239.255.255.250", True),  # not link-local multicast (SSDP): egress
    (REMOTE, CLIENT, False),  # neither is this host's: unknown, kept
    ("127.0.0.1", "127.0.0.1", False),  # loopback to loopback: ingress
])
def test_packetbeats_host_based_verdicts(source: str, destination: str, dropped: bool) -> None:
    verdict = OutgoingFilter(LocalAddresses(lambda: [LOCAL, LOCAL6, "127.0.0.1"]))
    assert verdict.drops(_event(source, destination)) is dropped
    assert verdict.ignored == int(dropped)


def test_a_missing_or_unreadable_address_is_skipped_as_packetbeat_skips_a_nil_ip() -> None:
    verdict = OutgoingFilter(LocalAddresses(lambda: [LOCAL]))
    assert not verdict.drops({"type": "x"})
    assert not verdict.drops({"source": {"ip": "not an address"}, "destination": {"ip": REMOTE}})
    assert verdict.drops({"source": {"ip": LOCAL}, "destination": {}})  # only the source is tested
    assert verdict.drops(_event(LOCAL, "not an address"))
    assert verdict.ignored == 2


def test_loopbacks_are_not_listed_as_own_addresses_and_zones_are_read() -> None:
    local = LocalAddresses(lambda: ["127.0.0.1", "::1", LOCAL, "fe80::2%eth0", "garbage"])
    assert {str(ip) for ip in local.addresses} == {LOCAL, "fe80::2"}


def test_addresses_are_read_again_after_the_refresh_period() -> None:
    now, interfaces = [0.0], [LOCAL]
    local = LocalAddresses(lambda: list(interfaces), refresh=30.0, clock=lambda: now[0])
    verdict = OutgoingFilter(local)
    interfaces.append("192.0.2.99")  # an address added while running
    assert not verdict.outgoing(_event("192.0.2.99", REMOTE))  # not yet known as this host's
    now[0] = 29.9
    assert not verdict.outgoing(_event("192.0.2.99", REMOTE))
    now[0] = 30.0
    assert verdict.outgoing(_event("192.0.2.99", REMOTE))  # read again on the first event past the period
    assert local.refreshes == 2


def test_a_failed_read_keeps_the_last_addresses_and_is_counted() -> None:
    calls = [0]

    def read() -> list[str]:
        calls[0] += 1
        if calls[0] > 1:
            raise OSError("no devices")
        return [LOCAL]

    now = [0.0]
    local = LocalAddresses(read, refresh=1.0, clock=lambda: now[0])
    now[0] = 5.0
    assert local.mine(LOCAL)
    assert local.read_errors == 1 and local.refreshes == 2


def _crafted(tmp_path: Path) -> Path:
    """Two DNS lookups (this host asks another; another host asks this one) and a TCP connection
    this host opens to a remote port 80."""
    q1, r1 = dns_query(1, "out.example"), dns_a_response(1, "out.example", ["198.51.100.1"])
    q2, r2 = dns_query(2, "in.example"), dns_a_response(2, "in.example", ["198.51.100.2"])
    packets = [
        (T0, udp_frame(LOCAL, REMOTE, 40000, 53, q1)), (T0 + 0.01, udp_frame(REMOTE, LOCAL, 53, 40000, r1)),
        (T0 + 1, udp_frame(CLIENT, LOCAL, 40001, 53, q2)), (T0 + 1.01, udp_frame(LOCAL, CLIENT, 53, 40001, r2)),
        (T0 + 2, tcp_frame(LOCAL, REMOTE, 40002, 80, flags="S")),
        (T0 + 2.01, tcp_frame(REMOTE, LOCAL, 80, 40002, flags="SA")),
    ]
    path = tmp_path / "crafted.pcap"
    write_pcap(str(path), packets)
    return path


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> tuple[list[dict[str, Any]], dict]:
    monkeypatch.setattr(outgoing, "_interface_addresses", lambda: [LOCAL, "127.0.0.1"])
    ps = {"protocols": [{"type": "dns"}], "flows": {"enabled": True}, **extra.pop("ps", {})}
    run = run_pcap(str(_crafted(tmp_path)), {"packetshipper": ps, **extra})
    return run.events, run.stats


def test_without_the_setting_everything_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, stats = _run(tmp_path, monkeypatch)
    assert sorted(e["dns"]["question"]["name"] for e in events if e["type"] == "dns") == ["in.example", "out.example"]
    assert len([e for e in events if e["type"] == "flow"]) == 3
    assert "ignore_outgoing" not in stats


def test_transactions_this_host_starts_are_dropped_and_counted_flows_are_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, stats = _run(tmp_path, monkeypatch, ps={"ignore_outgoing": True})
    assert [e["dns"]["question"]["name"] for e in events if e["type"] == "dns"] == ["in.example"]
    # Packetbeat 8's flows publish past the transaction publisher: every flow is still reported.
    flows = sorted((f["source"]["ip"], f["destination"]["ip"]) for f in events if f["type"] == "flow")
    assert flows == sorted([(LOCAL, REMOTE), (CLIENT, LOCAL), (LOCAL, REMOTE)])
    assert stats["ignore_outgoing"]["ignored_transactions"] == 1
    assert stats["ignore_outgoing"]["local_addresses"] == 1  # 127.0.0.1 is not listed


def test_dropped_before_processors_and_under_packetbeats_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Packetbeat's publisher drops outgoing events before its processors: they never count as processed.
    events, stats = _run(tmp_path, monkeypatch, ps={"ignore_outgoing": True},
                         processors=[{"add_tags": {"tags": ["seen"]}}])
    assert [e["dns"]["question"]["name"] for e in events if e["type"] == "dns"] == ["in.example"]
    assert all("seen" in e["tags"] for e in events)
    assert stats["ignore_outgoing"]["ignored_transactions"] == 1


def test_packetbeat_key_is_read_as_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper.config import validate_config

    config = validate_config({"packetbeat": {"ignore_outgoing": True}})
    assert config["packetshipper"]["ignore_outgoing"] is True
    assert config["packetshipper"]["local_addresses_refresh"] == 30.0
