"""Real SIP calls on loopback between two SIPp instances (Debian's sip-tester: its built-in uac and uas
scenarios: INVITE, 180, 200, ACK, BYE, 200), over UDP and over TCP, captured live.

Expected values are SIPp's own view: the messages its client logged as sent and received
(`-trace_msg`), each with its start line, Call-ID and CSeq. Needs sipp and permission to capture on lo.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher

CALLS = 3


def _cannot_run() -> str | None:
    if shutil.which("sipp") is None:
        return "sipp not installed (Debian's sip-tester; install.sh --dev installs it)"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp.bind(("127.0.0.1", 0))
        port = int(tcp.getsockname()[1])
        udp.bind(("127.0.0.1", port))
        socks += [tcp, udp]
        ports.append(port)
    for s in socks:
        s.close()
    return ports


def _logged_messages(log: Path) -> list[tuple[bool, str, str, str]]:
    """(sent by the client, start line, Call-ID, CSeq) of every message in SIPp's -trace_msg file."""
    out = []
    for block in log.read_text().split("-----------------------------------------------")[1:]:
        lines = block.splitlines()
        sent = " message sent" in lines[1]
        body = [line for line in lines[2:] if line.strip()]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in body[1:])}
        out.append((sent, body[0].strip(), headers["call-id"], headers["cseq"]))
    return out


def _call(tmp_path: Path, transport: str) -> tuple[list[dict[str, Any]], list[tuple[bool, str, str, str]], int]:
    server_port, client_port = _free_ports(2)
    flag = {"udp": "u1", "tcp": "t1"}[transport]
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"port {server_port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "sip", "ports": [server_port], "transport": transport}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)
    uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(server_port), "-m", str(CALLS),
                            "-t", flag, "-nostdin"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        log = tmp_path / f"uac-{transport}.log"
        subprocess.run(["sipp", "-sn", "uac", "-i", "127.0.0.1", "-p", str(client_port),
                        f"127.0.0.1:{server_port}", "-m", str(CALLS), "-r", "10", "-d", "50", "-t", flag,
                        "-nostdin", "-trace_msg", "-message_file", str(log)],
                       cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=True)
        uas.wait(10)
        time.sleep(0.5)
    finally:
        if uas.poll() is None:
            uas.terminate()
            uas.wait(10)
        shipper.stop()
        runner.join(10)
    events = sorted((e for e in publisher.events if e["type"] == "sip"), key=lambda e: e["event"]["start"])
    return events, _logged_messages(log), server_port


def _seen(event: dict[str, Any], server_port: int) -> tuple[bool, str, str, str]:
    sip = event["sip"]
    line = (f"{sip['method']} {sip['uri']['original']} SIP/{sip['version']}" if sip["type"] == "request"
            else f"SIP/{sip['version']} {sip['code']} {sip['status']}")
    cseq = f"{sip['cseq']['code']} {sip['cseq']['method']}"
    return event["destination"]["port"] == server_port, line, sip["call_id"], cseq


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_calls_give_one_event_per_message(tmp_path: Path, transport: str,
                                               assert_valid_event: Any) -> None:
    events, logged, server_port = _call(tmp_path, transport)
    assert len(logged) == 6 * CALLS  # INVITE, 180, 200, ACK, BYE, 200 per call, as SIPp logged them
    assert sorted(_seen(e, server_port) for e in events) == sorted(logged)
    for event in events:
        assert_valid_event(event)
        assert event["network"]["transport"] == transport
        assert event["status"] == "OK"
    invites = [e for e in events if e["sip"].get("method") == "INVITE"]
    assert len(invites) == CALLS and all(e["sip"]["sdp"]["connection"]["address"] == "127.0.0.1" for e in invites)
    assert {e["event"]["action"] for e in events} == {"sip-invite", "sip-ack", "sip-bye"}
