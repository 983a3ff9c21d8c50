"""A real DHCP exchange: dnsmasq serving a subnet in one network namespace, busybox's udhcpc asking for a
lease from another, joined by a veth pair this test creates; tcpdump records the
server's side and the capture is read back.

Expected values come from dnsmasq (its log of each message: type, address, MAC, the options the client
asked for; its config: router, DNS, NTP, lease time), the client's output and its interface's MAC, and
tshark's dissection of the same file.
Needs root (namespaces), ip, dnsmasq, busybox and tcpdump; skipped otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

TOOLS = ("ip", "dnsmasq", "busybox", "tcpdump")
SUBNET = "10.213.7"


def _cannot_run() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (install.sh --dev installs them)"
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


@dataclass
class Exchange:
    pcap: Path
    log: str
    client_mac: str
    client_output: str


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    base = tmp_path_factory.mktemp("dhcp")
    tag = f"{os.getpid() % 100000}"
    server_ns, client_ns = f"pks-dhs-{tag}", f"pks-dhc-{tag}"
    server_if, client_if = f"pks{tag}s", f"pks{tag}c"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (server_ns, client_ns):
            _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", server_if, "type", "veth", "peer", "name", client_if)
        _run("ip", "link", "set", server_if, "netns", server_ns)
        _run("ip", "link", "set", client_if, "netns", client_ns)
        _run("ip", "-n", server_ns, "addr", "add", f"{SUBNET}.1/24", "dev", server_if)
        for ns, interface in ((server_ns, server_if), (client_ns, client_if)):
            _run("ip", "-n", ns, "link", "set", interface, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        mac = _run("ip", "-n", client_ns, "-o", "link", "show", client_if).split("link/ether ", 1)[1].split()[0]
        pcap = base / "dhcp.pcap"
        tcpdump = subprocess.Popen(["ip", "netns", "exec", server_ns, "tcpdump", "-i", server_if, "-U", "-w",
                                    str(pcap), "udp port 67 or udp port 68"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        processes.append(tcpdump)
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()  # "listening on ...": capturing from here on
        log = base / "dnsmasq.log"
        dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", server_ns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--no-ping",
             f"--interface={server_if}", "--bind-interfaces", f"--dhcp-range={SUBNET}.50,{SUBNET}.60,255.255.255.0,1h",
             f"--dhcp-option=option:router,{SUBNET}.1", f"--dhcp-option=option:dns-server,{SUBNET}.2,{SUBNET}.3",
             f"--dhcp-option=option:ntp-server,{SUBNET}.4", "--dhcp-option=option:domain-name,lab.example",
             f"--dhcp-leasefile={base / 'leases'}", f"--pid-file={base / 'dnsmasq.pid'}", "--log-dhcp",
             f"--log-facility={log}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(dnsmasq)
        time.sleep(0.5)
        client = subprocess.run(
            ["ip", "netns", "exec", client_ns, "busybox", "udhcpc", "-i", client_if, "-f", "-q", "-n",
             "-t", "5", "-T", "1", "-s", "/bin/true", "-x", "hostname:kclient", "-V", "kvendor"],
            capture_output=True, text=True, timeout=30)
        time.sleep(0.5)  # tcpdump writes the last packet
        yield Exchange(pcap, log.read_text() if log.exists() else "", mac, client.stdout + client.stderr)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        for ns in (server_ns, client_ns):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def test_discover_offer_request_ack(exchange: Exchange) -> None:
    events = [e for e in events_from_pcap(str(exchange.pcap), {"packetshipper": {"protocols": [{"type": "dhcpv4"}]}})
              if e["type"] == "dhcpv4"]
    # udhcpc repeats its discover until an offer comes (its output says how often): keep the last one
    discovers = exchange.client_output.count("broadcasting discover")
    kinds = [e["dhcpv4"]["option"]["message_type"] for e in events]
    assert kinds == ["discover"] * discovers + ["offer", "request", "ack"], exchange.client_output
    events = events[discovers - 1:]
    discover, offer, request, ack = (e["dhcpv4"] for e in events)
    # dnsmasq's own view: "DHCPOFFER(if) address mac", "DHCPACK(if) address mac"
    served = {kind: [address, mac] for kind, address, mac in
              re.findall(r"DHCP(OFFER|ACK)\([^)]*\) (\S+) (\S+)", exchange.log)}
    assert served["OFFER"] == [offer["assigned_ip"], exchange.client_mac]
    assert served["ACK"] == [ack["assigned_ip"], exchange.client_mac]
    assert f"lease of {ack['assigned_ip']} obtained" in exchange.client_output
    assert {e["client_mac"] for e in (discover, offer, request, ack)} == {exchange.client_mac}
    assert len({discover["transaction_id"], offer["transaction_id"]}) == 1
    assert request["option"]["requested_ip_address"] == ack["assigned_ip"]
    assert request["option"]["hostname"] == "kclient" and discover["option"]["class_identifier"] == "kvendor"
    asked = [line.split("requested options: ", 1)[1] for line in exchange.log.splitlines() if "requested options" in line]
    codes = [item.split(":")[0] for part in asked[:2] for item in part.split(", ") if item.strip()]
    assert len(discover["option"]["parameter_request_list"]) == len(codes)
    options = ack["option"]
    assert options["server_identifier"] == f"{SUBNET}.1" and options["router"] == [f"{SUBNET}.1"]
    assert options["dns_servers"] == [f"{SUBNET}.2", f"{SUBNET}.3"] and options["ntp_servers"] == [f"{SUBNET}.4"]
    assert options["domain_name"] == "lab.example" and options["subnet_mask"] == "255.255.255.0"
    # dnsmasq's log: lease-time 1h, T1 30m, T2 52m30s
    assert (options["ip_address_lease_time_sec"], options["renewal_time_sec"], options["rebinding_time_sec"]) == (
        3600, 1800, 3150)
    assert [e["dhcpv4"]["op_code"] for e in events] == ["bootrequest", "bootreply", "bootrequest", "bootreply"]
    offer_event: dict[str, Any] = events[1]
    assert offer_event["server"]["ip"] == f"{SUBNET}.1" and offer_event["client"]["port"] == 68


def test_against_tshark(exchange: Exchange) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    rows = subprocess.run(["tshark", "-r", str(exchange.pcap), "-T", "fields", "-E", "separator=|",
                           "-e", "dhcp.option.dhcp", "-e", "dhcp.id", "-e", "dhcp.ip.your", "-e", "dhcp.hw.mac_addr"],
                          check=True, capture_output=True, text=True).stdout.splitlines()
    events = [e["dhcpv4"] for e in events_from_pcap(str(exchange.pcap),
                                                    {"packetshipper": {"protocols": [{"type": "dhcpv4"}]}})
              if e["type"] == "dhcpv4"]
    names = {"1": "discover", "2": "offer", "3": "request", "5": "ack"}
    assert [(names[r.split("|")[0]], r.split("|")[1]) for r in rows] == [
        (e["option"]["message_type"], e["transaction_id"]) for e in events]
    assert [r.split("|")[2] for r in rows] == [e.get("assigned_ip", "0.0.0.0") for e in events]
    assert all(r.split("|")[3].split(",")[0] == e["client_mac"] for r, e in zip(rows, events, strict=True))
