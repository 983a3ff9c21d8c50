"""Live capture on the loopback interface, with traffic the test itself generates.

Needs permission to capture (root, or CAP_NET_RAW); CI runs as root. Skipped with a reason otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher


def _can_capture() -> str | None:
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return str(exc)
    return None


pytestmark = pytest.mark.skipif(_can_capture() is not None, reason=f"cannot capture on lo: {_can_capture()}")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _udp_exchange(port: int, count: int) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", port))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    with server, client:
        for i in range(count):
            client.sendto(b"ping %d" % i, ("127.0.0.1", port))
            data, peer = server.recvfrom(100)
            server.sendto(b"pong " + data, peer)
            client.recvfrom(100)


def _tcp_exchange() -> int:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"hello over tcp")
        assert client.recv(100) == b"HELLO OVER TCP"
    thread.join(5)
    listener.close()
    return port


def test_live_flows_on_loopback_in_process() -> None:
    udp_port = _free_udp_port()
    tcp_listener_probe = socket.create_server(("127.0.0.1", 0))
    tcp_port = tcp_listener_probe.getsockname()[1]
    tcp_listener_probe.close()
    config = validate_config({"packetshipper": {"interfaces": {"device": "lo", "bpf_filter": f"udp port {udp_port}"}}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)  # let libpcap settle before traffic starts
    _udp_exchange(udp_port, 5)
    time.sleep(0.5)
    shipper.stop()
    runner.join(10)
    assert not runner.is_alive(), "the capture did not stop"
    flows = [e for e in publisher.events if e["type"] == "flow"]
    finals = [e for e in flows if e["flow"]["final"] and e["destination"].get("port") == udp_port]
    assert len(finals) == 1, flows
    flow = finals[0]
    assert flow["source"]["packets"] == 5 and flow["destination"]["packets"] == 5
    assert flow["source"]["ip"] == "127.0.0.1"
    assert flow["network"]["transport"] == "udp"
    # The ledger: libpcap's count for the handle matches what the engine saw (the filter let only ours in).
    assert shipper.engine.received == 10
    del tcp_port


def test_sigterm_stops_an_idle_live_capture_and_flushes_its_flows(tmp_path: Path) -> None:
    udp_port = _free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "packetshipper.cli", "-i", "lo", "--bpf", f"udp port {udp_port}",
         "-E", f"output.file.path={tmp_path}", "-E", "output.file.filename=live", "-e"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    stderr_head = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the capture to be open
            stderr_head.append(line)
            if "reading interface lo" in line:
                break
        time.sleep(0.3)
        _udp_exchange(udp_port, 3)
        time.sleep(1.0)  # the wire is idle from here on: a blocking read would never return
        proc.send_signal(signal.SIGTERM)
        _, stderr_tail = proc.communicate(timeout=15)
        stderr = "".join(stderr_head) + stderr_tail
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "received SIGTERM, stopping" in stderr
    events = [json.loads(line) for line in (tmp_path / "live").read_text().splitlines()]
    finals = [e for e in events if e["type"] == "flow" and e["flow"]["final"]]
    assert len(finals) == 1
    assert finals[0]["source"]["packets"] == 3 and finals[0]["destination"]["packets"] == 3


def test_live_source_reports_libpcap_counters() -> None:
    source = LiveSource("lo", bpf="udp port 9")
    try:
        stats = source.stats()
    finally:
        source.close()
    assert set(stats) == {"kernel_received", "kernel_dropped", "interface_dropped"}
    assert os.getuid() == 0 or stats["kernel_received"] >= 0


def test_with_flows_off_the_capture_filter_comes_from_the_modules_ports() -> None:
    wanted, other = _free_udp_port(), _free_udp_port()
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo"}, "flows": {"enabled": False},
        "protocols": [{"type": "dns", "ports": [wanted]}]}})
    shipper = Shipper(config, publisher=CollectingPublisher())
    assert shipper.source.bpf == f"udp port {wanted} or tcp port {wanted}" or shipper.source.bpf == (
        f"tcp port {wanted} or udp port {wanted}")
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)
    _udp_exchange(other, 4)  # not a module port: libpcap filters it out
    _udp_exchange(wanted, 2)
    time.sleep(0.5)
    shipper.stop()
    runner.join(10)
    assert shipper.engine.received == 4  # only the two exchanges on the module's port


def test_capturing_on_any_gives_linux_cooked_frames_and_the_same_flows() -> None:
    port = _free_udp_port()
    config = validate_config({"packetshipper": {"interfaces": {"device": "any", "bpf_filter": f"udp port {port}"}}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    assert shipper.source.linktype in (113, 276)  # Linux cooked capture, v1 or v2
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)
    _udp_exchange(port, 3)
    time.sleep(0.5)
    shipper.stop()
    runner.join(10)
    # Final reports only: a capture that straddles a 10 s period boundary also reports the flow midway.
    (flow,) = [e for e in publisher.events if e["type"] == "flow" and e["flow"]["final"]]
    assert (flow["source"]["packets"], flow["destination"]["packets"]) == (3, 3)
    assert "mac" not in flow["source"]  # cooked frames carry no Ethernet header


def test_real_http_traffic_captured_live_becomes_http_transactions(tmp_path: Path) -> None:
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    (tmp_path / "hello.txt").write_text("hello from a real server\n")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"tcp port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "http", "ports": [port]}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)
    try:
        body = urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=5).read()
        with pytest.raises(HTTPError):
            urlopen(f"http://127.0.0.1:{port}/missing?x=1", timeout=5)
        urlopen(Request(f"http://127.0.0.1:{port}/hello.txt", method="HEAD"), timeout=5).read()
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
        server.shutdown()
    assert body == b"hello from a real server\n"
    events = sorted((e for e in publisher.events if e["type"] == "http"), key=lambda e: e["event"]["start"])
    assert [(e["method"], e["url"]["path"], e["http"]["response"]["status_code"], e["status"]) for e in events] == [
        ("GET", "/hello.txt", 200, "OK"), ("GET", "/missing", 404, "Error"), ("HEAD", "/hello.txt", 200, "OK")]
    get = events[0]
    assert get["http"]["response"]["body"]["bytes"] == len(body)
    assert get["destination"]["port"] == port and get["source"]["ip"] == "127.0.0.1"
    assert events[1]["url"]["query"] == "x=1"
    head = events[2]["http"]["response"]
    assert head["headers"]["content-length"] == len(body) and "body" not in head  # HEAD: announced, not sent


def _wait_for_dns(port: int, limit: float = 20.0) -> None:
    """Until the DNS server on `port` answers (before the capture starts, so these queries are not seen)."""
    from packetshipper.pcapgen import dns_query

    deadline = time.monotonic() + limit
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.5)
        while True:
            probe.sendto(dns_query(0x0001, "ready.shop.example"), ("127.0.0.1", port))
            try:
                probe.recv(512)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no DNS server answered on port {port} within {limit:g}s") from None


def test_real_dns_server_traffic_captured_live_becomes_dns_transactions() -> None:
    import shutil

    from packetshipper.pcapgen import dns_query

    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (.ci/run installs it)")
    port = _free_udp_port()
    dns = subprocess.Popen(["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
                            "--bind-interfaces", f"--port={port}", "--user=root", "--pid-file=",
                            "--address=/www.shop.example/192.0.2.7", "--address=/gone.shop.example/"],
                           stderr=subprocess.DEVNULL)
    _wait_for_dns(port)  # a loaded machine may start dnsmasq late: asked before, the query is simply lost
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"udp port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "dns", "ports": [port]}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    answers = []
    try:
        time.sleep(0.5)  # dnsmasq and the capture both ready
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            for ident, name in ((0x1111, "www.shop.example"), (0x2222, "gone.shop.example")):
                client.sendto(dns_query(ident, name), ("127.0.0.1", port))
                answers.append(client.recv(512))
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
        dns.terminate()
        dns.wait(5)
    assert len(answers) == 2
    events = sorted((e for e in publisher.events if e["type"] == "dns"), key=lambda e: e["dns"]["id"])
    found, gone = events
    assert found["dns"]["question"]["name"] == "www.shop.example"
    assert found["dns"]["response_code"] == "NOERROR" and found["status"] == "OK"
    assert [a["data"] for a in found["dns"]["answers"]] == ["192.0.2.7"]
    assert found["destination"]["bytes"] == len(answers[0])
    assert gone["dns"]["response_code"] == "NXDOMAIN" and gone["status"] == "Error"
