"""A fresh TLS capture: `openssl s_server` and `openssl s_client` (and curl) on loopback, recorded by tcpdump.

TLS 1.2 and 1.3, with and without SNI, ALPN offered, sessions resumed from `-sess_out`/`-sess_in`, and a
handshake the server refuses. Expected versions, ciphers and the resumed flag come from the client's
own report; JA3, JA3S and JA4 from a second, minimal implementation below, written from the published
definitions and run on the raw hello bytes tshark extracts from the same capture.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

from tests.servers.certs import make_certificates

TOOLS = ("openssl", "tcpdump", "tshark")
_missing = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(bool(_missing), reason=f"not installed: {', '.join(_missing)}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="tcpdump on lo needs root"),
]

REQUEST = b"GET / HTTP/1.0\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"s_server did not listen on {port}")


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    refused: bool = False  # sent to the TLS 1.3-only server
    mutual: bool = False  # sent to the server that asks for a client certificate


CASES = [
    Case("tls12_sni", ("-tls1_2", "-servername", "localhost", "-sess_out", "{dir}/s12.pem")),
    Case("tls12_resumed", ("-tls1_2", "-servername", "localhost", "-sess_in", "{dir}/s12.pem")),
    Case("tls12_alpn", ("-tls1_2", "-servername", "localhost", "-alpn", "h2,http/1.1")),
    Case("tls12_no_sni", ("-tls1_2", "-noservername")),
    Case("tls13_sni_alpn", ("-tls1_3", "-servername", "localhost", "-alpn", "h2,http/1.1", "-sess_out", "{dir}/s13.pem")),
    Case("tls13_resumed", ("-tls1_3", "-servername", "localhost", "-sess_in", "{dir}/s13.pem")),
    Case("tls13_no_sni", ("-tls1_3", "-noservername")),
    Case("refused_tls12", ("-tls1_2", "-servername", "localhost"), refused=True),
    Case("tls12_client_certificate", ("-tls1_2", "-servername", "localhost", "-cert", "{dir}/server.pem",
                                      "-key", "{dir}/server.key"), mutual=True),
]


@dataclass(frozen=True)
class Recording:
    pcap: Path
    ports: tuple[int, int, int]
    outputs: dict[str, str]  # case -> s_client's stdout + stderr
    events: list[dict[str, Any]]  # in connection order


def _server(cert: Path, key: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(cert), "-key", str(key),
                             "-www", "-alpn", "h2,http/1.1", *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    base = tmp_path_factory.mktemp("tls")
    certs = make_certificates(base)
    port, strict_port, mutual_port = _free_port(), _free_port(), _free_port()
    servers = [_server(certs.cert, certs.key, port), _server(certs.cert, certs.key, strict_port, "-tls1_3"),
               _server(certs.cert, certs.key, mutual_port, "-Verify", "1", "-CAfile", str(certs.ca))]
    for listening in (port, strict_port, mutual_port):
        _wait_listening(listening)  # before recording: these probes are not TLS connections
    pcap = base / "tls.pcap"
    tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B", "65536", "-s", "0", "-w", str(pcap),
                                f"tcp port {port} or tcp port {strict_port} or tcp port {mutual_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outputs: dict[str, str] = {}
    try:
        assert tcpdump.stderr is not None
        assert "listening on" in tcpdump.stderr.readline()
        for case in CASES:
            target = strict_port if case.refused else mutual_port if case.mutual else port
            args = [a.replace("{dir}", str(base)) for a in case.args]
            done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{target}", "-CAfile", str(certs.ca),
                                   "-ign_eof", *args], input=REQUEST, capture_output=True, timeout=30)
            outputs[case.name] = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        if shutil.which("curl"):
            done = subprocess.run(["curl", "-sS", "-v", "--http1.1", "--tlsv1.2", "--tls-max", "1.2", "-m", "10", "-o", "/dev/null", "--cacert", str(certs.ca),
                                   "--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/"],
                                  capture_output=True, timeout=30, text=True)
            outputs["curl"] = done.stdout + done.stderr
        time.sleep(0.5)  # let tcpdump write the last segments
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.communicate(timeout=30)
        for server in servers:
            server.terminate()
            server.wait(10)
    config = {"packetshipper": {"flows": {"enabled": False},
                                "protocols": [{"type": "tls", "ports": [port, strict_port, mutual_port]}]}}
    events = sorted((e for e in events_from_pcap(str(pcap), config) if e["type"] == "tls"),
                    key=lambda e: e["event"]["start"])
    yield Recording(pcap, (port, strict_port, mutual_port), outputs, events)


def _by_case(recording: Recording) -> dict[str, dict[str, Any]]:
    names = [c.name for c in CASES] + (["curl"] if "curl" in recording.outputs else [])
    assert len(recording.events) == len(names), [e["source"]["port"] for e in recording.events]
    return dict(zip(names, recording.events, strict=True))


# --- what the client reported -------------------------------------------------------------------------
def _client_session(output: str) -> tuple[str, str, str]:
    """('New' or 'Reused', protocol such as TLSv1.3, OpenSSL cipher name) from s_client's report."""
    match = re.search(r"^(New|Reused), (TLSv1\.[0-3]), Cipher is (\S+)", output, re.M)
    assert match, output
    return match[1], match[2], match[3]


def _iana(openssl_name: str) -> str:
    if openssl_name.startswith("TLS_"):
        return openssl_name  # TLS 1.3 suites carry their IANA names
    out = subprocess.run(["openssl", "ciphers", "-stdname", openssl_name], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():  # "IANA_NAME - OPENSSL-NAME TLSv1.2 Kx=..."; TLS 1.3 suites listed too
        iana, _, rest = line.strip().partition(" - ")
        if rest.split()[0] == openssl_name:
            return iana.strip()
    raise AssertionError(f"openssl does not know {openssl_name}: {out}")


@pytest.mark.parametrize("case", [c for c in CASES if not c.refused], ids=lambda c: c.name)
def test_versions_ciphers_and_flags_as_the_client_saw_them(recording: Recording, case: Case,
                                                          assert_valid_event: Any) -> None:
    event = _by_case(recording)[case.name]
    assert_valid_event(event)
    new_or_reused, protocol, cipher = _client_session(recording.outputs[case.name])
    tls = event["tls"]
    assert event["status"] == "OK"
    assert tls["established"] is True
    assert tls["version"] == protocol.removeprefix("TLSv")
    assert tls["version_protocol"] == "tls"
    assert tls["cipher"] == _iana(cipher)
    assert tls["resumed"] is (new_or_reused == "Reused")
    sni = "localhost" if "-servername" in case.args else None
    assert tls["client"].get("server_name") == sni
    assert event["destination"].get("domain") == sni
    alpn = re.search(r"^ALPN protocol: (\S+)", recording.outputs[case.name], re.M)
    # TLS 1.3 sends the server's ALPN choice in EncryptedExtensions: not visible on the wire.
    visible = alpn[1] if alpn and protocol != "TLSv1.3" else None
    assert tls.get("next_protocol") == visible
    assert event["destination"]["port"] == recording.ports[2 if case.mutual else 0]


def test_alpn_offered_and_selected(recording: Recording) -> None:
    for name in ("tls12_alpn", "tls13_sni_alpn"):
        event = _by_case(recording)[name]
        offered = event["tls"]["detailed"]["client_hello"]["extensions"]["application_layer_protocol_negotiation"]
        assert offered == ["h2", "http/1.1"]
        assert "ALPN protocol: h2" in recording.outputs[name]
    assert _by_case(recording)["tls12_alpn"]["tls"]["next_protocol"] == "h2"
    assert "next_protocol" not in _by_case(recording)["tls13_sni_alpn"]["tls"]


def test_tls12_certificate_from_the_server(recording: Recording) -> None:
    event = _by_case(recording)["tls12_sni"]
    server = event["tls"]["server"]
    pem = (recording.pcap.parent / "server.pem").read_text()
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(), capture_output=True,
                         check=True).stdout
    assert server["hash"]["sha1"] == hashlib.sha1(der).hexdigest().upper()
    assert server["subject"] == "CN=localhost"
    assert server["issuer"] == "CN=ca"
    assert server["x509"]["alternative_names"] == ["localhost"]
    assert server["x509"]["public_key_algorithm"] == "RSA"
    assert server["x509"]["public_key_size"] == 2048
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True,
                            text=True, check=True).stdout.strip().split("=")[1]
    assert server["x509"]["serial_number"] == str(int(serial, 16))
    # TLS 1.3 sends its certificate encrypted: nothing to show.
    assert "x509" not in _by_case(recording)["tls13_sni_alpn"]["tls"].get("server", {})


def test_client_certificate_requested_and_sent(recording: Recording) -> None:
    event = _by_case(recording)["tls12_client_certificate"]
    pem = (recording.pcap.parent / "server.pem").read_text()
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(), capture_output=True,
                         check=True).stdout
    assert event["tls"]["detailed"]["client_certificate_requested"] is True
    assert event["tls"]["client"]["hash"]["sha1"] == hashlib.sha1(der).hexdigest().upper()
    assert event["tls"]["client"]["x509"]["subject"]["common_name"] == "localhost"
    assert _by_case(recording)["tls12_sni"]["tls"]["detailed"]["client_certificate_requested"] is False


def test_refused_handshake(recording: Recording) -> None:
    event = _by_case(recording)["refused_tls12"]
    output = recording.outputs["refused_tls12"]
    assert re.search(r"alert (number 70|protocol version)", output), output
    assert event["status"] == "Error"
    assert event["tls"]["established"] is False
    assert event["tls"]["detailed"]["alert_types"] == ["protocol_version"]
    (alert,) = event["tls"]["detailed"]["alerts"]
    assert alert == {"severity": "fatal", "code": 70, "type": "protocol_version", "source": "server"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl(recording: Recording) -> None:
    event = _by_case(recording)["curl"]
    assert event["tls"]["established"] is True
    assert event["tls"]["client"]["server_name"] == "localhost"
    offered = event["tls"]["detailed"]["client_hello"]["extensions"]["application_layer_protocol_negotiation"]
    assert "http/1.1" in offered
    accepted = re.search(r"ALPN[:,] server accepted (?:to use )?(\S+)", recording.outputs["curl"])
    assert accepted, recording.outputs["curl"]
    assert event["tls"]["next_protocol"] == accepted[1]
    assert event["tls"]["version"] == "1.2"


# --- a second, minimal JA3 / JA3S / JA4, from the definitions -----------------------------------------
def _grease(v: int) -> bool:
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF


def _u16s(b: bytes) -> list[int]:
    return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]


def _hello(payload: bytes) -> dict[str, Any]:
    """Record header (5), handshake header (4), then the hello body (RFC 8446 4.1.2 / 4.1.3)."""
    assert payload[0] == 22
    kind = payload[5]
    body = payload[9:9 + int.from_bytes(payload[6:9], "big")]
    version = int.from_bytes(body[0:2], "big")
    i = 2 + 32
    i += 1 + body[i]
    if kind == 1:
        n = int.from_bytes(body[i:i + 2], "big")
        ciphers = _u16s(body[i + 2:i + 2 + n])
        i += 2 + n
        i += 1 + body[i]
    else:
        ciphers = [int.from_bytes(body[i:i + 2], "big")]
        i += 3
    extensions: list[tuple[int, bytes]] = []
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    while i < end:
        code, n = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
        extensions.append((code, body[i + 4:i + 4 + n]))
        i += 4 + n
    return {"kind": kind, "version": version, "ciphers": ciphers, "extensions": extensions}


def _ext(hello: dict[str, Any], code: int) -> bytes | None:
    return next((data for c, data in hello["extensions"] if c == code), None)


def _ref_ja3(h: dict[str, Any]) -> str:
    exts = [c for c, _ in h["extensions"] if not _grease(c)]
    groups = [g for g in _u16s((_ext(h, 10) or b"\0\0")[2:]) if not _grease(g)]
    formats = list((_ext(h, 11) or b"\0")[1:])
    parts = [str(h["version"]), "-".join(str(c) for c in h["ciphers"] if not _grease(c)),
             "-".join(map(str, exts)), "-".join(map(str, groups)), "-".join(map(str, formats))]
    return hashlib.md5(",".join(parts).encode()).hexdigest()


def _ref_ja3s(h: dict[str, Any]) -> str:
    exts = [c for c, _ in h["extensions"] if not _grease(c)]
    return hashlib.md5(f"{h['version']},{h['ciphers'][0]},{'-'.join(map(str, exts))}".encode()).hexdigest()


def _ref_ja4(h: dict[str, Any]) -> str:
    versions = [v for v in _u16s((_ext(h, 43) or b"\0")[1:]) if not _grease(v)]
    version = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}.get(max(versions or [h["version"]]), "00")
    ciphers = [c for c in h["ciphers"] if not _grease(c)]
    exts = [c for c, _ in h["extensions"] if not _grease(c)]
    alpn = _ext(h, 16)
    first = alpn[3:3 + alpn[2]].decode() if alpn else ""
    a = f"t{version}{'d' if _ext(h, 0) is not None else 'i'}{len(ciphers):02d}{len(exts):02d}"
    a += (first[0] + first[-1]) if first else "00"
    b = hashlib.sha256(",".join(sorted(f"{c:04x}" for c in ciphers)).encode()).hexdigest()[:12]
    sigs = _u16s((_ext(h, 13) or b"\0\0")[2:])
    c_text = ",".join(sorted(f"{e:04x}" for e in exts if e not in (0, 16))) + "_" + ",".join(f"{s:04x}" for s in sigs)
    return f"{a}_{b}_{hashlib.sha256(c_text.encode()).hexdigest()[:12]}"


def _decode_as(recording: Recording) -> list[str]:
    return [a for port in recording.ports for a in ("-d", f"tcp.port=={port},tls")]


def _raw_hellos(recording: Recording) -> dict[int, dict[int, dict[str, Any]]]:
    """client port -> {1: ClientHello, 2: ServerHello}: each direction's first record, from the TCP
    payloads tshark lists, put in sequence order (so a hello split over segments is whole again)."""
    out = subprocess.run(["tshark", "-r", str(recording.pcap), "-o", "tcp.relative_sequence_numbers:TRUE",
                          "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
                          "-e", "tcp.seq", "-e", "tcp.payload"], capture_output=True, text=True, check=True).stdout
    streams: dict[tuple[int, int], dict[int, bytes]] = {}
    for line in out.splitlines():
        src, dst, seq, payload = line.split("\t")
        streams.setdefault((int(src), int(dst)), {})[int(seq)] = bytes.fromhex(payload.replace(":", ""))
    hellos: dict[int, dict[int, dict[str, Any]]] = {}
    for (src, dst), segments in streams.items():
        data, expected = b"", 1
        for seq in sorted(segments):
            if seq == expected:  # in order, retransmissions dropped
                data += segments[seq]
                expected = seq + len(segments[seq])
        if len(data) < 9 or data[0] != 22 or data[5] not in (1, 2):
            continue
        hello = _hello(data)
        client_port = src if hello["kind"] == 1 else dst
        hellos.setdefault(client_port, {})[hello["kind"]] = hello
    return hellos


def test_fingerprints_equal_a_second_implementation(recording: Recording) -> None:
    hellos = _raw_hellos(recording)
    assert sorted(hellos) == sorted(e["source"]["port"] for e in recording.events)
    for event in recording.events:
        seen = hellos[event["source"]["port"]]
        assert event["tls"]["client"]["ja3"] == _ref_ja3(seen[1])
        assert event["tls"]["client"]["ja4"] == _ref_ja4(seen[1])
        if 2 in seen:
            assert event["tls"]["server"]["ja3s"] == _ref_ja3s(seen[2])


def test_ja3_and_ja3s_equal_tsharks(recording: Recording) -> None:
    out = subprocess.run(["tshark", "-r", str(recording.pcap), *_decode_as(recording),
                          "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2",
                          "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tls.handshake.ja3",
                          "-e", "tls.handshake.ja3s"], capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    ja3 = {int(src): h for src, _, h, _ in rows if h}
    ja3s = {int(dst): h for _, dst, _, h in rows if h}  # keyed by the client's port
    assert sorted(ja3) == sorted(e["source"]["port"] for e in recording.events), out
    for event in recording.events:
        client_port = event["source"]["port"]
        assert event["tls"]["client"]["ja3"] == ja3[client_port]
        if client_port in ja3s:
            assert event["tls"]["server"]["ja3s"] == ja3s[client_port]
