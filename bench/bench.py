"""packetshipper benchmark: packets/s and events/s on a generated pcap.

    .venv/bin/python bench/bench.py                      # 1,000,000 packets over 55,000 concurrent flows
    .venv/bin/python bench/bench.py --packets 200000 --flows 12000
    .venv/bin/python bench/bench.py --profile http-dns   # 500,000 packets of HTTP/1.1 and DNS: protocols too

Prints, in one run: the bare read floor (pcapy-ng loops that only count packets: `next()` per packet,
and `next_batch()`), decode only, and decode + flows + JSON events written to a file through the real
publisher pipeline and file output. Each figure is the best of `--repeat` runs. The pcap is generated
once into bench/out/ (deterministic for a given spec).

The http-dns profile prints flows only (decode + flows + JSON) next to the full pipeline (decode + flows +
HTTP + DNS transactions + JSON), both to a file.

Run it with the Python packetshipper is installed in: `.venv/bin/python` after `sh install.sh --dev`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _require  # noqa: F401  (a one-line hint when run outside packetshipper's environment)
import pcapy
from packetshipper.capture import FileSource
from packetshipper.config import validate_config
from packetshipper.decode.decoder import Decoder
from packetshipper.engine import Engine
from packetshipper.pcapgen import MixSpec, generate_http_dns, generate_mixed, write_pcap
from packetshipper.runner import Shipper

OUT = Path(__file__).resolve().parent / "out"


def ensure_pcap(spec: MixSpec, profile: str) -> Path:
    OUT.mkdir(exist_ok=True)
    if profile == "http-dns":
        path = OUT / f"http-dns-{spec.packets}p.pcap"
        packets = generate_http_dns(spec.packets)
    else:
        path = OUT / f"mixed-{spec.packets}p-{spec.flows}f-{spec.seed}.pcap"
        packets = generate_mixed(spec)
    if not path.exists():
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        count = write_pcap(str(tmp), packets)
        tmp.rename(path)
        print(f"generated {path.name}: {count:,} packets in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def best_of(repeat: int, run: Callable[[], tuple[int, int]]) -> tuple[float, int, int]:
    """Best wall time over `repeat` runs of `run`, which returns (packets, events)."""
    best = float("inf")
    packets = events = 0
    for _ in range(repeat):
        started = time.perf_counter()
        packets, events = run()
        best = min(best, time.perf_counter() - started)
    return best, packets, events


def bare_next(path: Path) -> tuple[int, int]:
    reader = pcapy.open_offline(str(path))
    count = 0
    while True:
        header, _data = reader.next()
        if header is None:
            break
        count += 1
    return count, 0


def bare_batch(path: Path) -> tuple[int, int]:
    reader = pcapy.open_offline(str(path))
    count = 0
    while True:
        _buf, meta = reader.next_batch(4096)
        if not meta:
            break
        count += len(meta) // 16
    return count, 0


def decode_only(path: Path) -> tuple[int, int]:
    source = FileSource(str(path))
    engine = Engine(Decoder(source.linktype))
    for buf, meta in source.batches():
        engine.process_batch(buf, meta)
    return engine.received, 0


def full_run(path: Path, config: dict) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as out_dir:
        raw = dict(config)
        raw["packetshipper"] = dict(config.get("packetshipper", {}), interfaces={"file": str(path), "topspeed": True})
        raw["output"] = {"file": {"path": out_dir, "filename": "bench", "rotate_every_kb": 10_000_000}}
        shipper = Shipper(validate_config(raw))
        summary = shipper.run()
        written = 0
        for name in os.listdir(out_dir):
            with open(os.path.join(out_dir, name), "rb") as handle:
                written += sum(1 for _ in handle)
        if written != summary.events:
            raise SystemExit(f"file output has {written} events, the run published {summary.events}")
        return summary.packets, summary.events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("mixed", "http-dns"), default="mixed")
    parser.add_argument("--packets", type=int, help="default: 1,000,000 (mixed) or 500,000 (http-dns)")
    parser.add_argument("--flows", type=int, default=55_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--pcap", help="benchmark this pcap instead of the generated one")
    args = parser.parse_args()
    packets = args.packets or (500_000 if args.profile == "http-dns" else 1_000_000)
    path = Path(args.pcap) if args.pcap else ensure_pcap(MixSpec(flows=args.flows, packets=packets), args.profile)
    rows = []
    floor_s, n, _ = best_of(args.repeat, lambda: bare_next(path))
    floor = n / floor_s
    rows.append(("bare read, pcapy-ng next()", floor_s, n, 0))
    rows.append(("bare read, pcapy-ng next_batch()", *best_of(args.repeat, lambda: bare_batch(path))))
    rows.append(("decode only", *best_of(args.repeat, lambda: decode_only(path))))
    flows_cfg = {"packetshipper": {"flows": {"enabled": True}}}
    rows.append(("decode + flows + JSON to file", *best_of(args.repeat, lambda: full_run(path, flows_cfg))))
    if args.profile == "http-dns":
        protocols = {"packetshipper": {"flows": {"enabled": True}, "protocols": [{"type": "http"}, {"type": "dns"}]}}
        rows.append(("flows + HTTP + DNS + JSON to file", *best_of(args.repeat, lambda: full_run(path, protocols))))
    print(f"pcap: {path} ({n:,} packets)")
    print(f"{'stage':38} {'seconds':>8} {'packets/s':>12} {'events':>9} {'events/s':>10} {'of floor':>9}")
    for name, seconds, packets, events in rows:
        pps = packets / seconds
        eps = f"{events / seconds:,.0f}" if events else "-"
        print(f"{name:38} {seconds:8.2f} {pps:12,.0f} {events:9,} {eps:>10} {pps / floor:8.0%}")


if __name__ == "__main__":
    main()
