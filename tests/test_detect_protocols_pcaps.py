"""Detection by content (`packetshipper.detect_protocols`) on captures: a module found by its probe parses
a connection exactly as on a configured port; connections no probe claims produce nothing, cost one
lookup per later packet, and probing stays within `packetshipper.detect.*` (the counters say so)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import tcp_frame, udp_frame, write_pcap
from packetshipper.testing import run_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
UNUSED_PORT = 1  # a module configured on this port only: no capture here uses it


def _config(protocols: list[dict[str, Any]], detect: bool, **limits: Any) -> dict[str, Any]:
    ps: dict[str, Any] = {"flows": {"enabled": False}, "protocols": protocols, "detect_protocols": detect}
    if limits:
        ps["detect"] = limits
    return {"packetshipper": ps}


def _detect_stats(run: Any) -> dict[str, Any]:
    detect: dict[str, Any] = run.stats["protocols"]["detect"]
    return detect


# Packetbeat's captures that start at the connection's beginning (or, for mongodb, at a message header):
# with the module moved off their port, detection must give the very events the module gives on it.
ON_THEIR_PORTS = [
    ("dhcp.pcap", "dhcpv4"),
    ("http_basicauth.pcap", "http"),
    ("http_minitwit.pcap", "http"),
    ("http_over_vlan.pcap", "http"),
    ("http_realip.pcap", "http"),
    ("http_unmatched.pcap", "http"),
    ("memcache/memcache_bin_tcp_multi_store_load.pcap", "memcache"),
    ("memcache/memcache_text_tcp_counter_ops.pcap", "memcache"),
    ("memcache/memcache_bin_udp_counter_ops.pcap", "memcache"),
    ("memcache/memcache_text_udp_multi_store.pcap", "memcache"),
    ("mongo_3.0_session.pcap", "mongodb"),
    ("mysql_connection.pcap", "mysql"),
    ("mysql_with_whitespaces.pcap", "mysql"),
    ("pgsql_extended_query.pcap", "pgsql"),
    ("pgsql_rt.pcap", "pgsql"),
    ("tls-sample2.pcap", "tls"),
    ("tls-version-13.pcap", "tls"),
    ("amqp_publish.pcap", "amqp"),
    ("amqp_emit_receive.pcap", "amqp"),
    ("sip.pcap", "sip"),
    ("sip_authenticated_register.pcap", "sip"),
    ("sip_tcp.pcap", "sip", {"transport": "tcp"}),
]


@pytest.mark.parametrize("case", ON_THEIR_PORTS, ids=lambda case: case[0])
def test_a_detected_connection_gives_the_events_of_the_configured_port(case: tuple[Any, ...]) -> None:
    pcap, module = case[0], case[1]
    extra = case[2] if len(case) > 2 else {}
    path = PCAPS / pcap
    if not path.exists():
        path = PCAPS / "golden" / pcap
    on_port = run_pcap(str(path), _config([{"type": module, **extra}], detect=False))
    detected = run_pcap(str(path), _config([{"type": module, "ports": [UNUSED_PORT], **extra}], detect=True))
    assert on_port.events, "the module finds nothing on its own port: not a useful case"
    assert detected.events == on_port.events
    assert _detect_stats(detected)["claimed"].get(module, 0) >= 1


@pytest.mark.parametrize(("pcap", "module"), [("redis_session.pcap", "redis"),
                                              ("mysql_int_string_operations.pcap", "mysql"),
                                              ("mongodb_op_msg_opcode.pcap", "mongodb")])
def test_a_service_on_a_port_nobody_configured_is_found(pcap: str, module: str) -> None:
    """These captures use a port off the module's defaults: nothing without detection, and with it the
    events the module gives once that port is configured."""
    path = str(PCAPS / pcap)
    assert run_pcap(path, _config([{"type": module}], detect=False)).events == []
    detected = run_pcap(path, _config([{"type": module}], detect=True))
    assert detected.events
    ports = {e["server"]["port"] for e in detected.events}
    configured = run_pcap(path, _config([{"type": module, "ports": sorted(ports)}], detect=False))
    assert detected.events == configured.events


ALL_MODULES = [{"type": t} for t in ("http", "tls", "smtp", "redis", "memcache", "mysql", "pgsql", "mongodb",
                                     "dhcpv4", "dns", "amqp")] + [{"type": "sip", "transport": "both"}]


def _conversation(cport: int, sport: int, exchanges: list[tuple[bool, bytes]], t: float, n: int = 0,
                  handshake: bool = True, close: bool = True) -> list[tuple[float, bytes]]:
    c, s = f"10.1.{n >> 8 & 255}.{n & 255 or 1}", "10.2.0.1"
    out: list[tuple[float, bytes]] = []
    cs, ss = 1000, 9000
    if handshake:
        out += [(t, tcp_frame(c, s, cport, sport, flags="S", seq=cs - 1)),
                (t + 1e-4, tcp_frame(s, c, sport, cport, flags="SA", seq=ss - 1, ack=cs)),
                (t + 2e-4, tcp_frame(c, s, cport, sport, flags="A", seq=cs, ack=ss))]
    t += 3e-4
    for from_client, data in exchanges:
        if from_client:
            out.append((t, tcp_frame(c, s, cport, sport, data, flags="PA", seq=cs, ack=ss)))
            cs += len(data)
        else:
            out.append((t, tcp_frame(s, c, sport, cport, data, flags="PA", seq=ss, ack=cs)))
            ss += len(data)
        t += 1e-4
    if close:
        out += [(t, tcp_frame(c, s, cport, sport, flags="FA", seq=cs, ack=ss)),
                (t + 1e-4, tcp_frame(s, c, sport, cport, flags="FA", seq=ss, ack=cs + 1)),
                (t + 2e-4, tcp_frame(c, s, cport, sport, flags="A", seq=cs + 1, ack=ss + 1))]
    return out


def _random_connections(path: Path, count: int, segments: int, seed: int, interleaved: bool = False) -> None:
    """`count` connections on ports no module has, each with `segments` random segments per side."""
    rng = random.Random(seed)
    conversations = []
    for i in range(count):
        exchanges = [(side, rng.randbytes(rng.randrange(1, 1400))) for _ in range(segments) for side in (True, False)]
        conversations.append(_conversation(30000 + i % 20000, 40000 + i // 20000, exchanges, 1.0 + i * 1e-3, i))
    if interleaved:  # every connection open before any ends: probing is at its fullest
        rounds = [conv[k][1] for k in range(max(map(len, conversations))) for conv in conversations if k < len(conv)]
        packets = [(1.0 + k * 1e-5, frame) for k, frame in enumerate(rounds)]
    else:
        packets = [p for conv in conversations for p in conv]
    write_pcap(str(path), packets)


def test_random_bytes_on_5000_connections_give_nothing_and_cost_a_lookup_after_the_first_packets(
        tmp_path: Path) -> None:
    path = tmp_path / "random.pcap"
    segments = 4
    _random_connections(path, 5000, segments, seed=9)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=True, max_bytes=1024))
    assert run.events == []
    detect = _detect_stats(run)
    assert detect["claimed"] == {}
    assert detect["unclaimed"] == 5000 and detect["over_limit"] == 0
    assert detect["probing"] == 0 and run.stats["protocols"]["tcp"]["connections"] == 0
    assert detect["bytes_probed"] <= 5000 * 1024
    # Each connection: 3 handshake packets, 8 data segments, 3 closing packets. Once the first data has
    # been refused by every probe, the rest are skipped by the engine before the dispatcher.
    capture = run.stats["capture"]
    assert capture["received"] == 5000 * (6 + 2 * segments)
    assert capture["dispatched"] <= 5000 * 5


def test_probing_stays_within_max_connections_when_all_are_open_at_once(tmp_path: Path) -> None:
    path = tmp_path / "interleaved.pcap"
    _random_connections(path, 5000, 2, seed=10, interleaved=True)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=True, max_connections=100, max_rejected=3000))
    assert run.events == []
    detect = _detect_stats(run)
    assert detect["probing_max"] == 100
    assert detect["over_limit"] > 0
    assert detect["unclaimed"] + detect["over_limit"] >= 5000
    assert detect["rejected_remembered"] <= 3000 and detect["rejected_forgotten"] > 0


def test_random_udp_datagrams_are_not_claimed(tmp_path: Path) -> None:
    rng = random.Random(3)
    packets = []
    for i in range(500):
        for k in range(3):
            packets.append((1.0 + i * 1e-3 + k * 1e-4, udp_frame("10.3.0.1", "10.4.0.1", 20000 + i, 30000 + i,
                                                                 rng.randbytes(rng.randrange(1, 600)))))
    path = tmp_path / "udp.pcap"
    write_pcap(str(path), packets)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=True))
    assert run.events == []
    detect = _detect_stats(run)
    assert detect["claimed"] == {} and detect["unclaimed"] == 500
    assert run.stats["capture"]["dispatched"] == 500  # only each flow's first datagram was looked at


def test_detection_off_dispatches_nothing_off_the_module_ports(tmp_path: Path) -> None:
    path = tmp_path / "random.pcap"
    _random_connections(path, 200, 2, seed=11)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=False))
    assert run.events == []
    assert run.stats["capture"]["dispatched"] == 0
    assert "detect" not in run.stats["protocols"]


HTTP_REQUEST = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"
HTTP_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def _one(tmp_path: Path, exchanges: list[tuple[bool, bytes]], protocols: list[dict[str, Any]], detect: bool,
         port: int = 8999, **kwargs: Any) -> Any:
    path = tmp_path / f"one-{detect}-{port}.pcap"
    write_pcap(str(path), _conversation(45000, port, exchanges, 1.0, **kwargs))
    return run_pcap(str(path), _config(protocols, detect=detect))


def test_first_bytes_split_across_segments_are_replayed_whole(tmp_path: Path) -> None:
    """`GE`, `T /index.ht`, ...: the probes wait (NEED_MORE), then the module gets every byte."""
    pieces = [HTTP_REQUEST[i:i + 3] for i in range(0, len(HTTP_REQUEST), 3)]
    exchanges = [(True, p) for p in pieces] + [(False, HTTP_RESPONSE)]
    detected = _one(tmp_path, exchanges, ALL_MODULES, True)
    configured = _one(tmp_path, exchanges, [{"type": "http", "ports": [8999]}], False)
    assert [e["type"] for e in detected.events] == ["http"]
    assert detected.events == configured.events
    assert detected.events[0]["http"]["response"]["status_code"] == 200


@pytest.mark.parametrize(("request_bytes", "response_bytes", "module"), [
    (b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n", "memcache"),  # memcache's text before Redis' inline
    (b"GET k\r\n", b"$1\r\nv\r\n", "redis"),  # upper case: Redis inline
    (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n", "redis"),
    (HTTP_REQUEST, HTTP_RESPONSE, "http"),  # GET, also a Redis inline command: HTTP's probe goes first
])
def test_a_greedy_probe_does_not_take_another_modules_connection(tmp_path: Path, request_bytes: bytes,
                                                                 response_bytes: bytes, module: str) -> None:
    run = _one(tmp_path, [(True, request_bytes), (False, response_bytes)], ALL_MODULES, True)
    assert _detect_stats(run)["claimed"] == {module: 1}
    assert [e["type"] for e in run.events] == [module]


def test_a_server_greeting_claims_the_connection(tmp_path: Path) -> None:
    greeting = b"220 mail.example.test ESMTP Exim 4.96\r\n"
    exchanges = [(False, greeting), (True, b"EHLO client.test\r\n"), (False, b"250-mail.example.test\r\n250 HELP\r\n"),
                 (True, b"MAIL FROM:<a@example.test>\r\n"), (False, b"250 OK\r\n"),
                 (True, b"RCPT TO:<b@example.test>\r\n"), (False, b"250 Accepted\r\n"),
                 (True, b"DATA\r\n"), (False, b"354 Enter message\r\n"),
                 (True, b"Subject: hi\r\n\r\nhello\r\n.\r\n"), (False, b"250 OK id=1\r\n"),
                 (True, b"QUIT\r\n"), (False, b"221 closing\r\n")]
    detected = _one(tmp_path, exchanges, ALL_MODULES, True, port=2626)
    configured = _one(tmp_path, exchanges, [{"type": "smtp", "ports": [2626]}], False, port=2626)
    assert _detect_stats(detected)["claimed"] == {"smtp": 1}
    assert detected.events == configured.events and detected.events


def test_a_new_syn_on_the_ports_of_a_rejected_connection_is_probed_again(tmp_path: Path) -> None:
    rng = random.Random(5)
    first = _conversation(45000, 8999, [(True, rng.randbytes(200))], 1.0)
    second = _conversation(45000, 8999, [(True, HTTP_REQUEST), (False, HTTP_RESPONSE)], 2.0)
    path = tmp_path / "reuse.pcap"
    write_pcap(str(path), first + second)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=True))
    detect = _detect_stats(run)
    assert detect["unclaimed"] == 1 and detect["claimed"] == {"http": 1}
    assert [e["type"] for e in run.events] == ["http"]


def test_a_connection_that_never_decides_times_out_and_is_counted(tmp_path: Path) -> None:
    # "GET /a-very-long-target..." without its line end: HTTP's probe cannot tell; then silence.
    frames = _conversation(45000, 8999, [(True, b"GET /" + b"a" * 100)], 1.0, close=False)
    frames.append((30.0, tcp_frame("10.2.0.1", "10.1.0.1", 8999, 45000, flags="A", seq=9000, ack=1106)))
    path = tmp_path / "undecided.pcap"
    write_pcap(str(path), frames)
    run = run_pcap(str(path), _config(ALL_MODULES, detect=True, timeout="5s"))
    detect = _detect_stats(run)
    assert detect["timed_out"] == 1 and detect["unclaimed"] == 1 and detect["claimed"] == {}
    assert run.events == []


def test_a_connection_past_max_bytes_without_a_decision_is_unclaimed(tmp_path: Path) -> None:
    exchanges = [(True, b"GET /" + b"a" * 300), (True, b"b" * 300)]
    run = _one(tmp_path, exchanges, ALL_MODULES, True)
    assert _detect_stats(run)["over_max_bytes"] == 0  # default max_bytes 4096: still waiting at the close
    path = tmp_path / "long.pcap"
    write_pcap(str(path), _conversation(45000, 8999, exchanges, 1.0))
    small = run_pcap(str(path), _config(ALL_MODULES, detect=True, max_bytes=256))
    detect = _detect_stats(small)
    assert detect["over_max_bytes"] == 1 and detect["unclaimed"] == 1
    assert detect["bytes_probed"] <= 256
