"""Prompt delivery by the running service: with light traffic (one DNS query a second, far below
`queue.mem.flush.min_events`), the first event is at the output while the process still runs, within
`queue.mem.flush.timeout` (Beats' default 10 s) + 3 s; live on `lo` and on a paced replay.

Every run is the `packetshipper` command, as users start it; live ones capture on `lo` (root needed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import dns_a_response, dns_query, udp_frame, write_pcap
from servers.es_server import EsServer
from service_process import CAPTURE_PROBLEM, DnsResponder, ShipperProcess, dns_events, live_config

_can_capture = pytest.mark.skipif(CAPTURE_PROBLEM is not None, reason=f"cannot capture on lo: {CAPTURE_PROBLEM}")


def live(test: Callable[..., None]) -> Callable[..., None]:
    """Marked `live` and skipped, with the reason, where capturing on lo is not allowed."""
    marked: Callable[..., None] = pytest.mark.live(_can_capture(test))
    return marked

BEATS_FLUSH_TIMEOUT = 10.0  # queue.mem.flush.timeout when not configured (Beats 8)
GRACE = 3.0  # what the issue allows on top of flush.timeout


@pytest.fixture
def responder() -> Iterator[DnsResponder]:
    server = DnsResponder()
    yield server
    server.close()


def _es_dns_documents(es: EsServer) -> list[dict[str, Any]]:
    return [doc for doc in es.all_documents() if doc.get("type") == "dns"]


def _first_arrivals(responder: DnsResponder, outputs: dict[str, Callable[[], list[dict[str, Any]]]],
                    processes: list[ShipperProcess], limit: float) -> tuple[float, dict[str, float],
                                                                              dict[str, dict[str, Any]]]:
    """Ask one query a second; seconds from the first query until each output holds a DNS event."""
    started = time.monotonic()
    arrived: dict[str, float] = {}
    first: dict[str, dict[str, Any]] = {}
    asked = 0
    while len(arrived) < len(outputs) and time.monotonic() - started < limit:
        if time.monotonic() - started >= asked:
            responder.ask(asked + 1, f"q{asked + 1}.prompt.test")
            asked += 1
        for name, read in outputs.items():
            if name not in arrived:
                events = read()
                if events:
                    arrived[name] = time.monotonic() - started
                    first[name] = events[0]
                    assert all(p.proc.poll() is None for p in processes), "a shipper exited"
        time.sleep(0.05)
    return started, arrived, first


@live
@pytest.mark.slow
def test_default_queue_settings_deliver_the_first_event_within_flush_timeout_to_a_file_and_elasticsearch(
        tmp_path: Path, responder: DnsResponder, assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    config = live_config(tmp_path / "live.yml", responder.port)  # no queue settings: Beats' defaults
    out = tmp_path / "out"
    with EsServer() as es:
        to_file = ShipperProcess("-c", str(config), "-E", f"output.file.path={out}", cwd=tmp_path)
        to_es = ShipperProcess("-c", str(config), "-E", f'output.elasticsearch.hosts=["{es.url}"]', cwd=tmp_path)
        try:
            to_file.wait_until_capturing()
            to_es.wait_until_capturing()
            _, arrived, first = _first_arrivals(
                responder, {"file": lambda: dns_events(out), "elasticsearch": lambda: _es_dns_documents(es)},
                [to_file, to_es], limit=BEATS_FLUSH_TIMEOUT + GRACE + 1)
            for process in (to_file, to_es):
                assert process.signal_and_time() <= 2
                assert process.proc.returncode == 0
        finally:
            to_file.kill()
            to_es.kill()
    log = "\n".join(to_file.lines + to_es.lines)
    assert set(arrived) == {"file", "elasticsearch"}, f"arrived: {arrived}; log:\n{log}"
    assert max(arrived.values()) <= BEATS_FLUSH_TIMEOUT + GRACE, arrived
    for event in first.values():
        assert event["dns"]["question"]["name"] == "q1.prompt.test" and event["dns"]["id"] == 1
    assert_valid_event(first["file"])


@live
def test_a_shorter_flush_timeout_delivers_sooner(tmp_path: Path, responder: DnsResponder) -> None:
    config = live_config(tmp_path / "live.yml", responder.port, "queue.mem.flush.timeout: 1s\n")
    out = tmp_path / "out"
    shipper = ShipperProcess("-c", str(config), "-E", f"output.file.path={out}", cwd=tmp_path)
    try:
        shipper.wait_until_capturing()
        _, arrived, first = _first_arrivals(responder, {"file": lambda: dns_events(out)}, [shipper],
                                            limit=1 + GRACE + 1)
        assert shipper.signal_and_time() <= 2 and shipper.proc.returncode == 0
    finally:
        shipper.kill()
    assert "file" in arrived and arrived["file"] <= 1 + GRACE, f"{arrived}; log:\n" + "\n".join(shipper.lines)
    assert first["file"]["dns"]["id"] == 1
    # Everything the capture published was delivered before the exit: the last line says so.
    assert shipper.last_line().endswith("unsent 0: everything delivered")


def test_a_paced_replay_delivers_while_it_is_still_replaying(tmp_path: Path) -> None:
    # One DNS exchange at the start, then 4 s of quiet before the capture's last packet.
    pcap = tmp_path / "slow.pcap"
    t0 = 1_700_000_000.0
    write_pcap(str(pcap), [
        (t0, udp_frame("10.2.0.1", "10.2.0.2", 41000, 53, dns_query(77, "replay.prompt.test"))),
        (t0 + 0.002, udp_frame("10.2.0.2", "10.2.0.1", 53, 41000,
                               dns_a_response(77, "replay.prompt.test", ["192.0.2.1"]))),
        (t0 + 4.0, udp_frame("10.2.0.1", "10.2.0.3", 41001, 9, b"the end")),
    ])
    out = tmp_path / "out"
    shipper = ShipperProcess("-I", str(pcap), "-E", "packetshipper.protocols=[{type: dns}]",
                             "-E", "packetshipper.flows.enabled=false", "-E", "queue.mem.flush.timeout=0.5s",
                             "-E", f"output.file.path={out}", cwd=tmp_path)
    try:
        shipper.wait_for(r"reading file")
        started = time.monotonic()
        while not dns_events(out) and time.monotonic() - started < 0.5 + GRACE:
            time.sleep(0.05)
        still_replaying = shipper.proc.poll() is None
        events = dns_events(out)
        assert shipper.wait_exit(20) == 0
    finally:
        shipper.kill()
    assert events and events[0]["dns"]["id"] == 77, "\n".join(shipper.lines)
    assert still_replaying  # delivered during the 4 s of quiet, not at the end of the file
