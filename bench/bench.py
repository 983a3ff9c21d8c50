"""packetshipper benchmark: whole processes timed on generated captures, beside the bare read and Suricata.

    .venv/bin/python bench/bench.py                       # both profiles, as issue 11's table
    .venv/bin/python bench/bench.py --profile flows        # 1,000,000 packets over 55,000 concurrent flows
    .venv/bin/python bench/bench.py --profile apps         # 1,000,000 packets of HTTP, Redis, memcache, DNS, ICMP
    .venv/bin/python bench/bench.py --packets 200000 --repeat 5 --workers 2

Every row is one command run as its own process (start-up included), timed from outside; the commands of a
profile take turns (A B C A B C ...) so a drift of the machine's speed hits them alike, and the median of
`--repeat` runs is printed with the fastest. Rows:

  bare read, next() / next_batch()   a Python process that only counts the file's packets with pcapy-ng
  suricata, 1 thread                 `suricata -r --runmode single -S /dev/null -k none` (app-layer on, no
                                     rules, its default eve.json log): when installed
  packetshipper                      `packetshipper run -I file -t` with flows (profile flows) or flows +
                                     http, dns, icmp (profile apps: the capture holds Redis and memcache
                                     too), JSON to a file output
  packetshipper, pure Python         the same with PACKETSHIPPER_PURE_PYTHON=1 (when the compiled path exists)
  packetshipper, N workers           the same with packetshipper.workers: N

Events are the lines the process wrote (packetshipper's file output, Suricata's eve.json). The captures
are generated once into bench/out/ (deterministic).

Run it with the Python packetshipper is installed in: `.venv/bin/python` after `sh install.sh --dev`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import _require  # noqa: F401  (a one-line hint when run outside packetshipper's environment)
import appmix
import yaml
from packetshipper.pcapgen import MixSpec, generate_mixed, write_pcap

OUT = Path(__file__).resolve().parent / "out"
BIN = Path(sys.executable).parent

BARE_NEXT = """
import sys, pcapy
r = pcapy.open_offline(sys.argv[1]); n = 0
while True:
    h, _ = r.next()
    if h is None:
        break
    n += 1
print(n)
"""
BARE_BATCH = """
import sys, pcapy
r = pcapy.open_offline(sys.argv[1]); n = 0
while True:
    _, meta = r.next_batch(4096)
    if not meta:
        break
    n += len(meta) // 16
print(n)
"""


@dataclass
class Row:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    events_in: Path | None = None  # a directory whose files' lines are the events written
    seconds: list[float] = field(default_factory=list)
    events: int = 0
    failed: str = ""


def ensure_pcap(name: str, packets: Iterable[tuple[float, bytes]]) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    if not path.exists():
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        count = write_pcap(str(tmp), packets)
        tmp.rename(path)
        print(f"generated {path.name}: {count:,} packets in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def packet_count(path: Path) -> int:
    return int(subprocess.run([sys.executable, "-c", BARE_BATCH, str(path)], capture_output=True, text=True,
                              check=True).stdout)


def count_lines(directory: Path) -> int:
    total = 0
    for name in os.listdir(directory):
        if name.endswith(".log"):
            continue
        with open(directory / name, "rb") as handle:
            total += sum(1 for _ in handle)
    return total


def shipper_rows(pcap: Path, protocols: list[dict], work: Path, workers: int) -> list[Row]:
    output: dict[str, object] = {"path": "", "filename": "events", "rotate_every_kb": 100_000_000}
    config = {"packetshipper": {"flows": {"enabled": True}, "protocols": protocols}, "output": {"file": output},
              "logging": {"to_stderr": True, "level": "warning"}}
    rows = []
    variants: list[tuple[str, dict[str, str], list[str]]] = [("packetshipper", {}, [])]
    if importlib.util.find_spec("packetshipper._hotpath") is not None:
        variants.append(("packetshipper, pure Python", {"PACKETSHIPPER_PURE_PYTHON": "1"}, []))
    if workers > 1:
        variants.append((f"packetshipper, {workers} workers", {}, ["-E", f"packetshipper.workers={workers}"]))
    for i, (name, env, extra) in enumerate(variants):
        out = work / f"out{i}"
        out.mkdir()
        output["path"] = str(out)
        cfg = work / f"packetshipper{i}.yml"
        cfg.write_text(yaml.safe_dump(config))
        rows.append(Row(name, [str(BIN / "packetshipper"), "run", "-c", str(cfg), "--path.home", str(work),
                               "--strict.perms=false", "-I", str(pcap), "-t", "--no-progress", *extra],
                        env, events_in=out))
    return rows


def suricata_row(pcap: Path, work: Path) -> Row | None:
    suricata = shutil.which("suricata")
    if suricata is None:
        return None
    out = work / "suricata"
    out.mkdir()
    return Row("suricata, 1 thread, app-layer", [suricata, "-r", str(pcap), "--runmode", "single", "-S", "/dev/null",
                                                 "-k", "none", "-l", str(out)], events_in=out)


def run_row(row: Row, counted: bool = True) -> None:
    if row.failed:
        return
    if row.events_in is not None:
        for name in os.listdir(row.events_in):
            os.unlink(row.events_in / name)
    # As installed (pip and the packages compile the bytecode), not as a checkout under PYTHONDONTWRITEBYTECODE.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(row.argv, env={**env, **row.env}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        row.failed = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:100]
        return
    if counted:
        row.seconds.append(elapsed)
    if row.events_in is not None:
        row.events = count_lines(row.events_in)


def profile(title: str, pcap: Path, protocols: list[dict], repeat: int, workers: int) -> None:
    packets = packet_count(pcap)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [Row("bare read, pcapy-ng next()", [sys.executable, "-c", BARE_NEXT, str(pcap)]),
                Row("bare read, pcapy-ng next_batch()", [sys.executable, "-c", BARE_BATCH, str(pcap)])]
        suricata = suricata_row(pcap, work)
        if suricata is not None:
            rows.append(suricata)
        rows += shipper_rows(pcap, protocols, work, workers)
        for attempt in range(repeat + 1):  # the first round warms caches (page cache, bytecode) up
            for row in rows:
                run_row(row, counted=attempt > 0)
    print(f"\n{title}: {pcap.name}, {packets:,} packets; median (fastest) of {repeat} runs after a warm-up, whole processes")
    print(f"{'command':34} {'seconds':>15} {'packets/s':>11} {'events':>9} {'events/s':>9} "
          f"{'of next()':>9} {'x suricata':>10}")
    bare = statistics.median(rows[0].seconds) if rows[0].seconds else None
    sur = statistics.median(suricata.seconds) if suricata is not None and suricata.seconds else None
    one_worker = next((r for r in rows if r.name == "packetshipper"), None)
    for row in rows:
        if row.failed or not row.seconds:
            print(f"{row.name:34} failed: {row.failed}")
            continue
        median = statistics.median(row.seconds)
        eps = f"{row.events / median:,.0f}" if row.events else "-"
        of_bare = f"{bare / median:.2f}" if bare else "-"
        x_sur = f"{sur / median:.2f}" if sur else "-"
        print(f"{row.name:34} {median:6.2f} ({min(row.seconds):5.2f}) {packets / median:11,.0f} {row.events:9,} "
              f"{eps:>9} {of_bare:>9} {x_sur:>10}")
    if one_worker is not None and one_worker.seconds:
        for row in rows:
            if "workers" in row.name and row.seconds:
                print(f"{row.name} vs 1 worker: {statistics.median(one_worker.seconds) / statistics.median(row.seconds):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("flows", "apps", "all"), default="all")
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--flows", type=int, default=55_000, help="concurrent flows of the flows profile")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="also run with this many workers (1: not)")
    parser.add_argument("--pcap", help="benchmark this pcap (with the apps profile's modules) instead")
    args = parser.parse_args()
    if args.pcap:
        profile("given capture", Path(args.pcap), appmix.PROTOCOLS, args.repeat, args.workers)
        return
    if args.profile in ("flows", "all"):
        spec = MixSpec(flows=args.flows, packets=args.packets)
        pcap = ensure_pcap(f"mixed-{spec.packets}p-{spec.flows}f-{spec.seed}.pcap", generate_mixed(spec))
        profile("flows only", pcap, [], args.repeat, args.workers)
    if args.profile in ("apps", "all"):
        pcap = ensure_pcap(f"apps-{args.packets}p.pcap", appmix.generate(args.packets))
        profile("flows + http, dns, icmp", pcap, appmix.PROTOCOLS, args.repeat, args.workers)


if __name__ == "__main__":
    main()
