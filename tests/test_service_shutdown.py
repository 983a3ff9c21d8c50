"""Stopping the running service: SIGTERM ends it within `packetshipper.shutdown_timeout` + 2 s whatever
the output is doing, the last log line counts what was left unsent, the disk queue keeps exactly those
events for the next run, and a second signal exits at once. `-I file` with the output down keeps
retrying, saying so, until the output comes back.

Every run is the `packetshipper` command, as users start it; live ones capture on `lo` (root needed).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import dns_a_response, dns_query, udp_frame, write_pcap
from servers.es_server import EsServer
from service_process import (
    CAPTURE_PROBLEM,
    DnsResponder,
    ShipperProcess,
    SilentServer,
    closed_port,
    dns_events,
    live_config,
)

_can_capture = pytest.mark.skipif(CAPTURE_PROBLEM is not None, reason=f"cannot capture on lo: {CAPTURE_PROBLEM}")


def live(test: Callable[..., None]) -> Callable[..., None]:
    """Marked `live` and skipped, with the reason, where capturing on lo is not allowed."""
    marked: Callable[..., None] = pytest.mark.live(_can_capture(test))
    return marked

QUERIES = 3
_UNSENT = re.compile(r"unsent (\d+)")


@pytest.fixture
def responder() -> Iterator[DnsResponder]:
    server = DnsResponder()
    yield server
    server.close()


def _unsent(line: str) -> int:
    match = _UNSENT.search(line)
    assert match, f"no unsent count in the last log line: {line!r}"
    return int(match.group(1))


# Each output setup: the -E overrides of a broken output, and whatever must stay alive meanwhile.
def _es_refusing(_tmp: Path) -> tuple[list[str], Any]:
    return ["-E", f'output.elasticsearch.hosts=["127.0.0.1:{closed_port()}"]'], None


def _es_silent(_tmp: Path) -> tuple[list[str], Any]:
    server = SilentServer()  # accepts the connection, never answers `GET /`
    return ["-E", f'output.elasticsearch.hosts=["127.0.0.1:{server.port}"]'], server


def _es_slow_bulk(_tmp: Path) -> tuple[list[str], Any]:
    es = EsServer().__enter__()
    es.request_plan = [("slow", 60.0)] * 5  # `GET /` answers, every `_bulk` hangs for a minute
    return ["-E", f'output.elasticsearch.hosts=["{es.url}"]', "-E", "queue.mem.flush.timeout=0s"], es


def _file_unopenable(tmp: Path) -> tuple[list[str], Any]:
    (tmp / "not-a-dir").write_text("a file where the output directory should be")
    return ["-E", f"output.file.path={tmp / 'not-a-dir' / 'out'}"], None


BROKEN = {
    "es-refusing": _es_refusing,
    "es-never-answers": _es_silent,
    "es-bulk-hangs": _es_slow_bulk,
    "file-cannot-open": _file_unopenable,
}


def _stop_helper(helper: Any) -> None:
    if isinstance(helper, EsServer):
        helper.__exit__(None, None, None)
    elif helper is not None:
        helper.close()


def _run_live_then_sigterm(tmp_path: Path, responder: DnsResponder, broken: Callable[[Path], tuple[list[str], Any]],
                           extra: list[str]) -> tuple[ShipperProcess, float, list[tuple[int, str]]]:
    overrides, helper = broken(tmp_path)
    config = live_config(tmp_path / "live.yml", responder.port)
    shipper = ShipperProcess("-c", str(config), *overrides, *extra, cwd=tmp_path)
    try:
        shipper.wait_until_capturing()
        asked = [(100 + i, f"q{i}.shutdown.test") for i in range(QUERIES)]
        for ident, name in asked:
            responder.ask(ident, name)
        shipper.wait_for_events(QUERIES)
        took = shipper.signal_and_time()
    finally:
        shipper.kill()
        _stop_helper(helper)
    return shipper, took, asked


@live
@pytest.mark.parametrize("broken", list(BROKEN), ids=list(BROKEN))
def test_sigterm_with_the_output_broken_exits_at_once_and_counts_the_dropped_events(
        tmp_path: Path, responder: DnsResponder, broken: str) -> None:
    shipper, took, _ = _run_live_then_sigterm(tmp_path, responder, BROKEN[broken], [])
    assert took <= 0 + 2, f"took {took:.1f}s with shutdown_timeout 0; log:\n" + "\n".join(shipper.lines)
    assert shipper.proc.returncode == 0
    last = shipper.last_line()
    assert _unsent(last) == QUERIES and "dropped (memory queue)" in last, last
    assert "Traceback" not in "\n".join(shipper.lines)


@live
def test_sigterm_gives_a_slow_output_shutdown_timeout_to_deliver_what_is_queued(
        tmp_path: Path, responder: DnsResponder) -> None:
    with EsServer() as es:
        es.request_plan = [("slow", 1.5)]  # the first `_bulk` answers after 1.5 s
        config = live_config(tmp_path / "live.yml", responder.port)
        shipper = ShipperProcess("-c", str(config), "-E", f'output.elasticsearch.hosts=["{es.url}"]',
                                 "-E", "packetshipper.shutdown_timeout=10s", cwd=tmp_path)
        try:
            shipper.wait_until_capturing()
            for i in range(QUERIES):
                responder.ask(200 + i, f"slow{i}.shutdown.test")
            shipper.wait_for_events(QUERIES)  # queued: flush.timeout (10 s) has not passed yet
            took = shipper.signal_and_time()
        finally:
            shipper.kill()
        documents = [doc for doc in es.all_documents() if doc.get("type") == "dns"]
    assert took <= 10 + 2 and shipper.proc.returncode == 0
    assert _unsent(shipper.last_line()) == 0, shipper.last_line()
    assert sorted(doc["dns"]["id"] for doc in documents) == [200, 201, 202]


def _empty_pcap(path: Path) -> Path:
    write_pcap(str(path), [])
    return path


@live
@pytest.mark.parametrize("broken", ["es-refusing", "es-never-answers", "file-cannot-open"])
def test_sigterm_with_the_disk_queue_keeps_exactly_the_unsent_events_for_the_next_run(
        tmp_path: Path, responder: DnsResponder, broken: str, assert_valid_event: Callable[[dict[str, Any]], None]
) -> None:
    queue = tmp_path / "diskqueue"
    disk = ["-E", f"queue.disk.path={queue}", "-E", "packetshipper.shutdown_timeout=1s"]
    shipper, took, asked = _run_live_then_sigterm(tmp_path, responder, BROKEN[broken], disk)
    assert took <= 1 + 2, f"took {took:.1f}s with shutdown_timeout 1s; log:\n" + "\n".join(shipper.lines)
    assert shipper.proc.returncode == 0
    last = shipper.last_line()
    assert _unsent(last) == QUERIES and f"kept in the disk queue {queue}" in last, last

    out = tmp_path / "delivered"
    restart = ShipperProcess("-t", "-I", str(_empty_pcap(tmp_path / "empty.pcap")), *disk,
                             "-E", f"output.file.path={out}", cwd=tmp_path)
    assert restart.wait_exit(30) == 0, "\n".join(restart.lines)
    assert _unsent(restart.last_line()) == 0
    events = dns_events(out)
    for event in events:
        assert_valid_event(event)
    got = sorted((e["dns"]["id"], e["dns"]["question"]["name"], e["dns"]["response_code"]) for e in events)
    assert got == sorted((ident, name, "NOERROR") for ident, name in asked)


@live
@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_exits_at_once_during_a_long_shutdown_timeout(tmp_path: Path, responder: DnsResponder,
                                                                       first: signal.Signals) -> None:
    overrides, _ = _es_refusing(tmp_path)
    config = live_config(tmp_path / "live.yml", responder.port)
    shipper = ShipperProcess("-c", str(config), *overrides, "-E", "packetshipper.shutdown_timeout=60s", cwd=tmp_path)
    try:
        shipper.wait_until_capturing()
        responder.ask(7, "second.signal.test")
        shipper.wait_for_events(1)
        shipper.proc.send_signal(first)
        shipper.wait_for(rf"received {first.name}, stopping")
        shipper.wait_for(r"cannot connect", count=1)  # waiting for the output within the 60 s
        assert shipper.proc.poll() is None
        took = shipper.signal_and_time()
    finally:
        shipper.kill()
    assert took <= 2, f"took {took:.1f}s; log:\n" + "\n".join(shipper.lines)
    assert shipper.proc.returncode == 0
    last = shipper.last_line()
    assert "received a second signal (SIGTERM): exiting at once" in last and _unsent(last) == 1, last


def _dns_pcap(path: Path, count: int) -> list[tuple[int, str]]:
    """`count` DNS query/answer pairs, 10 ms apart; returns (id, name) of each."""
    packets, asked = [], []
    for i in range(count):
        ident, name = 1000 + i, f"host{i}.example.com"
        asked.append((ident, name))
        ts = 1_700_000_000.0 + i * 0.01
        packets.append((ts, udp_frame("10.1.0.1", "10.1.0.2", 40000 + i, 53, dns_query(ident, name))))
        packets.append((ts + 0.001, udp_frame("10.1.0.2", "10.1.0.1", 53, 40000 + i,
                                              dns_a_response(ident, name, ["192.0.2.7"]))))
    write_pcap(str(path), packets)
    return asked


def test_reading_a_file_with_the_output_down_keeps_retrying_then_delivers_everything(tmp_path: Path) -> None:
    asked = _dns_pcap(tmp_path / "dns.pcap", 25)
    out = tmp_path / "out"
    out.write_text("a file where the output directory should be, removed later")
    shipper = ShipperProcess("-t", "-I", str(tmp_path / "dns.pcap"), "-E", "packetshipper.protocols=[{type: dns}]",
                             "-E", "packetshipper.flows.enabled=false", "-E", f"output.file.path={out}",
                             "-E", "output.file.backoff.init=100ms", "-E", "output.file.backoff.max=400ms",
                             cwd=tmp_path)
    try:
        warnings = shipper.wait_for(r"WARNING .*output file: cannot connect: .*; 25 events waiting, next attempt in",
                                    count=4)
        assert all(str(out) in line for line in warnings)
        shipper.wait_for(r"input finished; waiting for output file to take the 25 queued events")
        assert shipper.proc.poll() is None  # the input is done, delivery is not: it keeps waiting
        out.unlink()  # the output comes back
        assert shipper.wait_exit(30) == 0, "\n".join(shipper.lines)
    finally:
        shipper.kill()
    assert _unsent(shipper.last_line()) == 0
    events = dns_events(out)
    assert sorted((e["dns"]["id"], e["dns"]["question"]["name"]) for e in events) == asked



def test_sigterm_while_the_replay_waits_on_a_full_queue_exits_and_counts_every_event(tmp_path: Path) -> None:
    # A file replay waits for room in a full queue (nothing is lost while the output may come back);
    # after a signal, neither that wait nor flushing the flows at the end may block the exit.
    _dns_pcap(tmp_path / "dns.pcap", 40)
    overrides, _ = _file_unopenable(tmp_path)
    shipper = ShipperProcess("-t", "-I", str(tmp_path / "dns.pcap"), "-E", "packetshipper.protocols=[{type: dns}]",
                             "-E", "queue.mem.events=5", *overrides, cwd=tmp_path)
    try:
        shipper.wait_for(r"cannot connect: .*; 5 events waiting")
        time.sleep(0.3)
        assert shipper.proc.poll() is None  # blocked on the full queue
        took = shipper.signal_and_time()
    finally:
        shipper.kill()
    assert took <= 0 + 2, f"took {took:.1f}s; log:\n" + "\n".join(shipper.lines)
    assert shipper.proc.returncode == 0
    last = shipper.last_line()
    published = re.search(r"done: \d+ packets, (\d+) events", last)
    assert published, last
    # 40 DNS transactions and their 40 flows were published (most refused: the queue holds 5)
    assert int(published.group(1)) == 80
    assert _unsent(last) == 80 and "75 of them refused at shutdown as the queue was full" in last, last


BACKSTOP_CHILD = textwrap.dedent(
    """
    import logging, os, signal, sys, time
    from packetshipper.logs import setup_logging
    from packetshipper.runner import StopSignals

    class Publisher:
        def shutdown_by(self, deadline): pass
        def unsent(self): return 5, "dropped (memory queue)"

    class Run:  # what StopSignals sees of a Shipper whose main thread is stuck somewhere
        publisher, events, flushing = Publisher(), 0, False
        def stop_by(self, deadline): pass

    setup_logging(to_stderr=True)
    signals = StopSignals(float(sys.argv[1]))
    signals.attach(Run())
    print("ready", flush=True)
    time.sleep(600)  # stuck: only the backstop can end this
    """
)


def test_a_stuck_process_still_exits_shortly_after_the_shutdown_deadline(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(BACKSTOP_CHILD)
    child = subprocess.Popen([sys.executable, str(script), "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        child.kill()
    assert child.returncode == 0
    assert 1 <= took <= 1 + 2, err  # not before the deadline, and soon after it
    last = err.strip().splitlines()[-1]
    assert "not stopped 2.5s after SIGTERM: exiting now; unsent 5: dropped (memory queue)" in last, err
