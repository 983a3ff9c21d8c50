"""Events/s from a pcap to the in-test Elasticsearch server, to the Lumberjack server and to a file.

    .venv/bin/python bench/bench_outputs.py                      # 100,000 packets of HTTP + DNS, flows on
    .venv/bin/python bench/bench_outputs.py --packets 300000
    .venv/bin/python bench/bench_outputs.py --preloaded          # the events decoded first; time only queue + output
    .venv/bin/python bench/bench_outputs.py --preloaded --queue disk --repeat 5 --outputs file,elasticsearch

The shipper (capture, modules, pipeline, output) is pinned to one core; each receiving server runs in
its own process on the other core, so the figure is the shipper's, not the receiver's. The run checks
that the receiver holds exactly the events the shipper published.

Run it with the Python packetshipper is installed in: `.venv/bin/python` after `sh install.sh --dev`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _require  # noqa: F401  (a one-line hint when run outside packetshipper's environment)
from packetshipper.config import validate_config
from packetshipper.metrics import Metrics
from packetshipper.pcapgen import generate_http_dns
from packetshipper.pipeline import build_publisher
from packetshipper.runner import Shipper
from packetshipper.testing import run_pcap

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import ensure_pcap  # noqa: E402

SERVER_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from servers.{module} import {cls}
with {cls}() as server:
    print(server.port, flush=True)
    for line in sys.stdin:  # each line asks how many events arrived
        print({count}, flush=True)
"""

SERVERS = {
    "elasticsearch": ("es_server", "EsServer", "len(server.all_documents())"),
    "logstash": ("lumberjack_server", "LumberjackServer", "len(server.acked_events)"),
}


class ServerProcess:
    """A receiving server in a child process pinned to `core`; `count()` asks it what arrived."""

    def __init__(self, kind: str, core: int) -> None:
        module, cls, count = SERVERS[kind]
        script = SERVER_SCRIPT.format(tests=str(HERE.parent / "tests"), module=module, cls=cls, count=count)
        self.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {core})
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)


def _queue(kind: str, data: str) -> dict[str, Any]:
    return {"disk": {"path": os.path.join(data, "diskqueue"), "max_size": "4GB", "fsync": "never"}} \
        if kind == "disk" else {}


def run(pcap: Path, output: dict[str, Any], queue: dict[str, Any]) -> tuple[int, int, float]:
    raw = {"packetshipper": {"interfaces": {"file": str(pcap), "topspeed": True},
                             "protocols": [{"type": "http"}, {"type": "dns"}]},
           "output": output, "queue": queue, "logging": {"metrics": {"enabled": False}}}
    shipper = Shipper(validate_config(raw))
    started = time.perf_counter()
    summary = shipper.run()  # returns once the publisher has delivered everything
    return summary.packets, summary.events, time.perf_counter() - started


def run_preloaded(events: list[dict[str, Any]], output: dict[str, Any], queue: dict[str, Any]) -> tuple[int, int, float]:
    """Only the publisher pipeline and the output: queue, batching, encoding, the wire, the acks."""
    config = validate_config({"output": output, "queue": queue, "logging": {"metrics": {"enabled": False}}})
    publisher = build_publisher(config, Metrics(), live=False)
    copies = [dict(event) for event in events]  # publish may stamp ids into an event: each run its own
    started = time.perf_counter()
    for event in copies:
        publisher.publish(event)
    publisher.close()
    return 0, len(events), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--preloaded", action="store_true", help="decode first, then time only queue + output")
    parser.add_argument("--queue", choices=("mem", "disk"), default="mem", help="the queue events go through")
    parser.add_argument("--repeat", type=int, default=1, help="runs per output; the median is printed")
    parser.add_argument("--outputs", default="elasticsearch,logstash,file", help="comma-separated")
    args = parser.parse_args()
    pcap = ensure_pcap(f"http-dns-{args.packets}p.pcap", generate_http_dns(args.packets))
    events: list[dict[str, Any]] = []
    if args.preloaded:
        events = run_pcap(str(pcap), {"packetshipper": {"protocols": [{"type": "http"}, {"type": "dns"}]}},
                          check_schema=False).events
    measure = run_preloaded if args.preloaded else (lambda _events, out, queue: run(pcap, out, queue))
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    shipper_core, server_core = cores[0], cores[-1]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {shipper_core})
    print(f"pcap: {pcap.name}; queue {args.queue}; shipper on core {shipper_core}, receivers on core {server_core}; "
          f"median of {args.repeat}")
    print(f"{'output':16} {'packets':>9} {'events':>9} {'seconds':>8} {'events/s':>10} {'received':>9}"
          f" {'shipper cpu':>11}")
    for kind in args.outputs.split(","):
        runs = [_measure_once(kind, measure, events, args.queue, server_core) for _ in range(args.repeat)]
        packets, published, seconds, received, cpu = sorted(runs, key=lambda r: r[2])[len(runs) // 2]
        flag = "" if all(r[3] == r[1] for r in runs) else "  MISMATCH"
        print(f"{kind:16} {packets:9,} {published:9,} {seconds:8.2f} {published / seconds:10,.0f} {received:9,}"
              f" {statistics.median(r[4] for r in runs):10.2f}s{flag}")


def _measure_once(kind: str, measure: Any, events: list[dict[str, Any]], queue_kind: str,
                  server_core: int) -> tuple[int, int, float, int, float]:
    cpu_before = time.process_time()
    with tempfile.TemporaryDirectory() as data:
        queue = _queue(queue_kind, data)
        if kind == "file":
            out = os.path.join(data, "out")
            packets, published, seconds = measure(events, {"file": {"path": out, "rotate_every_kb": 10_000_000}},
                                                  queue)
            received = sum(len(p.read_bytes().splitlines()) for p in Path(out).iterdir())
        else:
            server = ServerProcess(kind, server_core)
            try:
                host = f"http://127.0.0.1:{server.port}" if kind == "elasticsearch" else f"127.0.0.1:{server.port}"
                packets, published, seconds = measure(events, {kind: {"hosts": [host]}}, queue)
                received = server.count()
            finally:
                server.close()
    cpu = time.process_time() - cpu_before  # this process only: the receiver's time is not in it
    return packets, published, seconds, received, cpu


if __name__ == "__main__":
    main()
