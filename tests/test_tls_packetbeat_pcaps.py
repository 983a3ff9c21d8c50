"""Packetbeat's TLS captures: its six golden files (test_0099_golden_files.py) and test_0068_tls.py.

Packetbeat's golden comparison flattens each event, removes its host-dependent keys and looks for
every expected event among the produced ones (order ignored, equal as dicts). The expected values are
Packetbeat's own; JA3 is also checked against tshark's implementation on the same capture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from golden import GOLDEN, HOST_DEPENDENT, PCAPS, assert_matches, clean, flatten
from packetshipper.testing import events_from_pcap

# Envelope fields the core adds beyond Packetbeat's output (as tests/test_http_pcaps.py lists them).
ENVELOPE_ADDITIONS = ("event.outcome", "source.mac", "destination.mac", "client.mac", "server.mac")
# Envelope fields Packetbeat's TLS events lack but the core always writes; a module cannot remove them
# yet (see test_exact_packetbeat_comparison_without_core_byte_counts).


def golden_cases() -> list[tuple[str, str, dict[str, Any]]]:
    cases = yaml.safe_load((GOLDEN / "golden-tests.yml").read_text())["test_cases"]
    out = []
    for case in cases:
        if "TLS" not in case["name"]:
            continue
        name = "".join("_" if c in " -." else c for c in case["name"]).lower()  # as test_0099 does
        options = {key.removeprefix("tls_"): value for key, value in case["config"].items()}
        out.append((name, Path(case["pcap"]).name, options))
    return out


def tls_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "tls", **options}], "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "tls"]


def test_six_golden_cases_are_found() -> None:
    assert sorted(name for name, _, _ in golden_cases()) == sorted([
        "non_established_tls", "established_tls", "tls_all_options", "tls_not_detailed", "tls_no_certs", "tls_1_3"])


@pytest.mark.parametrize(("name", "pcap", "options"), golden_cases(), ids=[c[0] for c in golden_cases()])
def test_golden_file(name: str, pcap: str, options: dict[str, Any]) -> None:
    # Our two additions (JA3S, JA4) off: Packetbeat's fields only.
    events = tls_events(pcap, include_ja3s=False, include_ja4=False, **options)
    expected = [clean(e, HOST_DEPENDENT) for e in json.loads((GOLDEN / f"{name}-expected.json").read_text())]
    got = [clean(flatten(e), HOST_DEPENDENT + ENVELOPE_ADDITIONS) for e in events]
    assert_matches(expected, got)


@pytest.mark.parametrize(("name", "pcap", "options"), golden_cases(), ids=[c[0] for c in golden_cases()])
def test_golden_file_with_defaults_adds_only_ja3s_and_ja4(name: str, pcap: str, options: dict[str, Any]) -> None:
    plain = [flatten(e) for e in tls_events(pcap, include_ja3s=False, include_ja4=False, **options)]
    full = [flatten(e) for e in tls_events(pcap, **options)]
    assert len(plain) == len(full) == 1
    added = set(full[0]) - set(plain[0])
    assert added == {"tls.client.ja4", "tls.server.ja3s"} or (added == {"tls.client.ja4"} and name == "non_established_tls")
    assert {k: v for k, v in full[0].items() if k not in added} == plain[0]


def test_exact_packetbeat_comparison_without_core_byte_counts() -> None:
    events = tls_events("tls-sample1.pcap", include_ja3s=False, include_ja4=False)
    expected = [clean(e, HOST_DEPENDENT)
                for e in json.loads((GOLDEN / "non_established_tls-expected.json").read_text())]
    assert_matches(expected, [clean(flatten(e), HOST_DEPENDENT + ENVELOPE_ADDITIONS) for e in events])


def test_0068_tls12() -> None:
    (o,) = [flatten(e) for e in tls_events("http2-16-ssl.pcap")]
    assert o["type"] == "tls"
    assert o["source.ip"] == "127.0.0.1"
    assert o["source.port"] == 60883
    assert o["destination.ip"] == "127.0.0.1"
    assert o["destination.port"] == 443
    assert o["destination.domain"] == "localhost"
    assert o["network.type"] == "ipv4"
    assert o["network.transport"] == "tcp"
    assert o["network.protocol"] == "tls"
    assert "network.community_id" in o
    assert "event.start" in o
    assert "event.end" in o
    assert "event.duration" in o
    assert o["status"] == "OK"
    assert o["tls.client.ja3"] == "ba7a226ea102737ecfa8959f26b28b95"
    assert o["tls.detailed.version"] == "TLS 1.2"
    assert o["tls.detailed.client_hello.extensions.server_name_indication"] == ["localhost"]


def test_0068_tls12_has_no_network_bytes() -> None:
    (o,) = [flatten(e) for e in tls_events("http2-16-ssl.pcap")]
    assert "network.bytes" not in o


def _tshark(pcap: Path, *fields: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2",
                          "-T", "fields", *[a for f in fields for a in ("-e", f)]],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("pcap", ["tls-sample1.pcap", "tls-sample2.pcap", "tls-version-13.pcap", "http2-16-ssl.pcap"])
def test_ja3_and_ja3s_equal_tsharks(pcap: str) -> None:
    rows = _tshark(PCAPS / pcap, "tls.handshake.ja3", "tls.handshake.ja3s")
    client = {r[0] for r in rows if r[0]}
    server = {r[1] for r in rows if len(r) > 1 and r[1]}
    (event,) = tls_events(pcap)
    assert {event["tls"]["client"]["ja3"]} == client
    if "cipher" in event["tls"] and server:
        assert {event["tls"]["server"]["ja3s"]} == server
