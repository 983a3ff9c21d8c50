"""Protocol path micro benchmark: the capture thread's share of the http-dns run, without flows or outputs.

    .venv/bin/python bench/bench_protocols.py                    # the 500,000-packet http-dns capture
    .venv/bin/python bench/bench_protocols.py --packets 100000   # a smaller one (generated into bench/out/ once)
    .venv/bin/python bench/bench_protocols.py --profile          # cProfile the HTTP + DNS stage, top functions

Rows (best of `--repeat`; the pcap is read into memory first, so no file I/O is timed):
  decode + dispatch, no-op modules   TCP/UDP tables, connections, reassembly: the core alone
  decode + HTTP + DNS events         the same with the real modules; events built and dropped

bench/bench.py measures the whole pipeline (publisher and file output too); this isolates the part the
protocol modules and the dispatcher cost.

Run it with the Python packetshipper is installed in: `.venv/bin/python` after `sh install.sh --dev`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import _require  # noqa: F401  (a one-line hint when run outside packetshipper's environment)
from packetshipper.capture import FileSource
from packetshipper.decode.decoder import Decoder
from packetshipper.dispatch import Dispatcher
from packetshipper.engine import Engine
from packetshipper.event import Envelope
from packetshipper.pcapgen import generate_http_dns
from packetshipper.protocol import (
    COMMON_SETTINGS,
    Connection,
    Correlator,
    Direction,
    ProtocolModule,
    StreamParser,
    Transaction,
)
from packetshipper.registry import build_modules
from packetshipper.settings import validate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ensure_pcap  # noqa: E402


class _NoParser(StreamParser):
    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        return []


class _NoCorrelator(Correlator):
    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        return []


class NoOpModule(ProtocolModule):
    """Takes the HTTP and DNS ports and does nothing with the bytes: what is left is the core's cost."""

    name: ClassVar[str] = "noop"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    default_ports: ClassVar[tuple[int, ...]] = (80, 8080, 8000, 5000, 8002, 53)

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return _NoParser()

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        return []

    def correlator(self, connection: Connection) -> Correlator:
        return _NoCorrelator()

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return {}


def run(batches: list[tuple[bytes, bytes]], linktype: int, modules: list[ProtocolModule]) -> tuple[float, int, int]:
    events = 0

    def emit(event: dict[str, Any]) -> None:
        nonlocal events
        events += 1

    engine = Engine(Decoder(linktype), None, Dispatcher(modules, emit, Envelope("bench"), {}))
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)  # as the runner sets it
    started = time.perf_counter()
    for buf, meta in batches:
        engine.process_batch(buf, meta)
    engine.finish()
    seconds = time.perf_counter() - started
    gc.unfreeze()
    return seconds, engine.received, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pcap", help="benchmark this pcap instead of the generated http-dns one")
    parser.add_argument("--profile", action="store_true", help="cProfile one HTTP + DNS run instead")
    args = parser.parse_args()
    path = Path(args.pcap) if args.pcap else ensure_pcap(f"http-dns-{args.packets}p.pcap", generate_http_dns(args.packets))
    source = FileSource(str(path))
    batches = [(bytes(buf), bytes(meta)) for buf, meta in source.batches() if meta]
    linktype = source.linktype
    source.close()

    def real_modules() -> list[ProtocolModule]:
        return build_modules([{"type": "http"}, {"type": "dns"}])

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        run(batches, linktype, real_modules())
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        return
    stages = [
        ("decode + dispatch, no-op modules", lambda: [NoOpModule(validate(COMMON_SETTINGS, {"type": "noop"}))]),
        ("decode + HTTP + DNS events", real_modules),
    ]
    print(f"pcap: {path}")
    print(f"{'stage':36} {'seconds':>8} {'packets/s':>12} {'events':>9} {'events/s':>10}")
    for name, modules in stages:
        seconds, packets, events = min(run(batches, linktype, modules()) for _ in range(args.repeat))
        eps = f"{events / seconds:,.0f}" if events else "-"
        print(f"{name:36} {seconds:8.2f} {packets / seconds:12,.0f} {events:9,} {eps:>10}")


if __name__ == "__main__":
    main()
