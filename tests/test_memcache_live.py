"""A real memcached (Debian's package) on loopback, spoken to over TCP and UDP in the text and binary
protocols (pymemcache is not installed: the test speaks protocol.txt itself), captured live.

Expected values are memcached's own answers as the test's client reads them, and what it sent.
Needs permission to capture on lo and the memcached binary; skipped otherwise.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import memcache_wire as w
import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher


def _cannot_run() -> str | None:
    if shutil.which("memcached") is None:
        return "memcached not installed (install.sh --dev installs it)"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


def _free_port() -> int:
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        port = int(tcp.getsockname()[1])
        udp.bind(("127.0.0.1", port))  # free for both
        return port


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = _free_port()
    server = subprocess.Popen(["memcached", "-p", str(port), "-U", str(port), "-l", "127.0.0.1", "-u", "root",
                               "-m", "64"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"version\r\n")
                    if probe.recv(100).startswith(b"VERSION"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("memcached did not start")
        yield port
    finally:
        server.terminate()
        server.wait(10)


class TextClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def call(self, data: bytes, until: bytes) -> bytes:
        self.sock.sendall(data)
        while not self.buf.endswith(until):
            chunk = self.sock.recv(65536)
            assert chunk, "memcached closed the connection"
            self.buf += chunk
        out, self.buf = self.buf, b""
        return out

    def close(self) -> None:
        self.sock.close()


@contextmanager
def capturing(port: int, **options: Any) -> Iterator[tuple[list[dict[str, Any]], dict[str, int]]]:
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "memcache", "ports": [port], **options}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    events: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    time.sleep(0.3)
    try:
        yield events, counters
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
    events.extend(sorted((e for e in publisher.events if e["type"] == "memcache"), key=lambda e: e["event"]["start"]))
    counters.update(shipper.modules[0].stats)


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    m = event["memcache"]
    request, response = m.get("request", {}), m.get("response", {})
    return request.get("command"), response.get("command"), event["status"]


def test_text_protocol_over_tcp_with_a_multi_get_miss(port: int) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB: many loopback segments
    with capturing(port, maxvalues=-1, maxbytespervalue=16) as (events, counters):
        c = TextClient(port)
        answers = [c.call(w.store("set", "live:a", b"alpha", flags=3), b"\r\n"),
                   c.call(w.store("set", "live:big", big), b"\r\n"),
                   c.call(w.line("get live:a live:missing live:big"), b"END\r\n"),
                   c.call(w.line("incr live:a 1"), b"\r\n"),
                   c.call(w.line("delete live:missing"), b"\r\n"),
                   c.call(w.line("stats"), b"END\r\n")]
        c.call(w.store("set", "live:quiet", b"q", noreply=True) + w.line("version"), b"\r\n")
        c.close()
    assert answers[:2] == [b"STORED\r\n", b"STORED\r\n"]
    assert answers[2].startswith(b"VALUE live:a 3 5\r\nalpha\r\nVALUE live:big 0 262144\r\n")
    assert answers[3].startswith(b"CLIENT_ERROR") and answers[4] == b"NOT_FOUND\r\n"
    assert [summary(e) for e in events] == [
        ("set", "STORED", "OK"), ("set", "STORED", "OK"), ("get", "VALUE", "OK"),
        ("incr", "CLIENT_ERROR", "Client Error"), ("delete", "NOT_FOUND", "Error"), ("stats", "STAT", "OK"),
        ("set", None, "OK"), ("version", "VERSION", "OK")]
    get = events[2]["memcache"]
    assert get["request"]["keys"] == ["live:a", "live:missing", "live:big"]
    assert get["response"]["keys"] == ["live:a", "live:big"]  # the miss is absent, as in the server's reply
    assert get["response"]["count_values"] == 2 and get["response"]["bytes"] == 5 + len(big)
    assert get["response"]["flags"] == 0 and events[2]["destination"]["bytes"] == len(answers[2])
    assert events[3]["error"]["message"] == answers[3].decode().strip()
    stat_lines = [x for x in answers[5].decode().split("\r\n") if x.startswith("STAT ")]
    assert len(events[5]["memcache"]["response"]["stats"]) == len(stat_lines)
    assert events[5]["memcache"]["response"]["stats"][0] == dict(zip(("name", "value"), stat_lines[0][5:].split(" ", 1),
                                                                     strict=True))
    assert events[6]["memcache"]["request"]["noreply"] is True
    assert counters.get("unmatched_responses", 0) == 0


def test_binary_protocol_over_tcp_with_quiet_gets_and_a_miss(port: int) -> None:
    header = struct.Struct(">BBHBBHIIQ")
    with capturing(port) as (events, _), socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(w.binary(w.SET, key=b"bin:k1", extras=w.set_extras(7, 0), body=b"one", opaque=1)
                     + w.binary(w.GETKQ, key=b"bin:k1", opaque=2) + w.binary(w.GETKQ, key=b"bin:none", opaque=3)
                     + w.binary(w.GET, key=b"bin:none", opaque=4) + w.binary(w.NOOP, opaque=5))
        replies = []
        buf = b""
        while len(replies) < 4:
            buf += sock.recv(65536)
            while len(buf) >= 24 and len(buf) >= 24 + header.unpack_from(buf)[6]:
                size = 24 + header.unpack_from(buf)[6]
                replies.append(header.unpack_from(buf)[:8])
                buf = buf[size:]
    # The server's answers: Set ok (1), a hit for the first GetKQ (2), nothing for the quiet miss (3),
    # Key not found (status 1) for the Get (4), and the NoOp (5).
    assert [(r[7], r[5]) for r in replies] == [(1, 0), (2, 0), (4, 1), (5, 0)]
    assert [summary(e) + (e["memcache"]["request"]["opaque"],) for e in events] == [
        ("set", "set", "OK", 1), ("get", "get", "OK", 2), ("get", None, "OK", 3), ("get", "get", "Error", 4),
        ("noop", "noop", "OK", 5)]
    assert events[1]["memcache"]["response"]["flags"] == 7 and events[1]["memcache"]["response"]["bytes"] == 3
    assert events[3]["memcache"]["response"]["status"] == "Key not found"
    assert events[2]["memcache"]["request"]["quiet"] is True


def test_text_and_binary_over_udp_with_a_reply_over_several_datagrams(port: int) -> None:
    value = b"u" * 5000
    with capturing(port) as (events, counters), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        server = ("127.0.0.1", port)

        def call(request_id: int, payload: bytes, until: bytes = b"\r\n") -> list[bytes]:
            sock.sendto(w.UDP.pack(request_id, 0, 1, 0) + payload, server)
            datagrams = [sock.recv(65536)]
            while not b"".join(d[8:] for d in datagrams).endswith(until):
                datagrams.append(sock.recv(65536))
            return datagrams

        stored = call(1, w.store("set", "udp:big", value))
        got = call(2, w.line("get udp:big udp:missing"), b"END\r\n")
        sock.sendto(w.UDP.pack(3, 0, 1, 0) + w.store("set", "udp:q", b"1", noreply=True), server)
        binary = call(4, w.binary(w.GETK, key=b"udp:missing", opaque=44), b"udp:missing")  # GetK: a miss echoes the key
        time.sleep(0.2)
    assert stored[0][8:] == b"STORED\r\n"
    # memcached cut the values into a message of four datagrams, then sent END as a message of its own
    assert [w.UDP.unpack_from(d)[:3] for d in got] == [(2, 0, 4), (2, 1, 4), (2, 2, 4), (2, 3, 4), (2, 0, 1)]
    assert b"".join(d[8:] for d in got) == w.value("udp:big", value) + w.line("END")
    assert w.HEADER.unpack_from(binary[0], 8)[5] == 1  # Key not found
    assert [summary(e) for e in events] == [("set", "STORED", "OK"), ("get", "VALUE", "OK"), ("set", None, "OK"),
                                            ("get", "get", "Error")]
    get = events[1]
    assert get["network"]["transport"] == "udp" and get["memcache"]["response"]["bytes"] == len(value)
    assert get["memcache"]["response"]["keys"] == ["udp:big"]
    assert get["destination"]["bytes"] == sum(len(d) - 8 for d in got)
    assert events[3]["memcache"]["protocol_type"] == "binary" and events[3]["memcache"]["response"]["opaque"] == 44
    assert "udp_messages_incomplete" not in counters


def test_meta_commands_pipelined_with_quiet_mode(port: int) -> None:
    pipeline = (b"ms m:a 5 T0 q\r\nhello\r\n" + w.line("mg m:a v k q Oone") + w.line("mg m:none v k q Otwo")
                + w.line("md m:none q k Othree") + w.line("ma m:a q Ofour") + w.line("mn")
                + w.line("mg m:a s k") + w.line("mg m:none"))
    with capturing(port) as (events, counters):
        c = TextClient(port)
        answer = c.call(pipeline, b"EN\r\n")
        c.close()
    lines = answer.split(b"\r\n")
    # The server's own answers: a hit, the quiet miss and the quiet store unanswered, NF, the error for
    # incrementing text, MN, then the two plain gets.
    assert [x.split(b" ")[0] for x in lines if x and x != b"hello"] == [b"VA", b"NF", b"CLIENT_ERROR", b"MN", b"HD",
                                                                        b"EN"]
    assert [summary(e) for e in events] == [
        ("ms", None, "OK"), ("mg", "VA", "OK"), ("mg", None, "OK"), ("md", "NF", "Error"),
        ("ma", "CLIENT_ERROR", "Client Error"), ("mn", "MN", "OK"), ("mg", "HD", "OK"), ("mg", "EN", "OK")]
    assert events[1]["memcache"]["response"]["keys"] == ["m:a"] and events[1]["memcache"]["response"]["bytes"] == 5
    assert events[0]["memcache"]["request"]["quiet"] is True and events[0]["memcache"]["request"]["bytes"] == 5
    assert counters.get("unmatched_requests", 0) == 0 and counters.get("unmatched_responses", 0) == 0


def test_dump_commands_are_one_event_each_with_their_lines(port: int) -> None:
    # (`stats cachedump` is left out: which items it lists depends on the LRU maintainer's timing.)
    with capturing(port) as (events, _):
        c = TextClient(port)
        c.call(w.line("stats detail on") + w.store("set", "dump:k1", b"hello") + w.line("get dump:k1"), b"END\r\n")
        dumps = [c.call(w.line(command), b"END\r\n") for command in ("stats detail dump", "lru_crawler metadump all")]
        c.close()
    lines = [[x for x in d.replace(b"\r\n", b"\n").split(b"\n") if x and x != b"END"] for d in dumps]
    assert any(x.startswith(b"PREFIX dump get 1 hit 1 set 1") for x in lines[0])
    assert any(x.startswith(b"key=dump%3Ak1 ") for x in lines[1])  # metadump ends its lines with LF only
    ours = events[3:]
    assert [summary(e) for e in ours] == [("stats", "STAT", "OK"), ("lru_crawler metadump", "STAT", "OK")]
    for event, server_lines in zip(ours, lines, strict=True):
        assert len(event["memcache"]["response"]["stats"]) == len(server_lines)
