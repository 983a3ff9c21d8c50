"""Transactions/s of each protocol module on a generated capture (decode + dispatch + module + events),
and the module's own time per transaction.

    .venv/bin/python bench/bench_modules.py                    # every module in bench/captures/
    .venv/bin/python bench/bench_modules.py redis mysql        # only these
    .venv/bin/python bench/bench_modules.py --transactions 20000

Each module's capture comes from bench/captures/<module>.py (see its __init__.py) and is written once
into bench/out/. The pcap is read into memory first, so no file I/O is timed; events are built and
dropped, as in bench_protocols.py, whose `run` this uses. Each figure is the best of `--repeat` runs.

`us/trans` is the module's time per transaction: the run's time less that of the same capture with a
no-op module on the same ports and transports (decode, TCP/UDP tables and reassembly stay), divided by
the transactions. It covers parsing, correlation, the module's event fields and the core's envelope.

Run it with the Python packetshipper is installed in: `.venv/bin/python` after `sh install.sh --dev`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import _require  # noqa: F401  (a one-line hint when run outside packetshipper's environment)
from packetshipper.capture import FileSource
from packetshipper.pcapgen import write_pcap
from packetshipper.protocol import COMMON_SETTINGS, ProtocolModule
from packetshipper.registry import build_modules
from packetshipper.settings import validate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import captures  # noqa: E402
from bench_protocols import NoOpModule, run  # noqa: E402

OUT = HERE / "out"


def available() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(captures.__path__))


def capture_path(name: str, transactions: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"module-{name}-{transactions}t.pcap"
    if not path.exists():
        spec = importlib.import_module(f"captures.{name}")
        write_pcap(str(path), spec.generate(transactions))
    return path


def no_ops(modules: list[ProtocolModule]) -> list[ProtocolModule]:
    """A module that does nothing in place of each of `modules`, on its ports and transports."""
    out: list[ProtocolModule] = []
    for module in modules:
        cls = type(f"NoOp_{module.name}", (NoOpModule,), {"transports": module.transports})
        out.append(cls(validate(COMMON_SETTINGS, {"type": "noop", "ports": list(module.ports)})))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to run (default: all of {', '.join(available())})")
    parser.add_argument("--transactions", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    names = args.modules or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"no capture for {', '.join(unknown)} in bench/captures/")
    print(f"{'module':12} {'packets':>9} {'seconds':>8} {'packets/s':>11} {'transactions':>12} {'trans/s':>10} "
          f"{'no-op s':>8} {'us/trans':>9}")
    for name in names:
        path = capture_path(name, args.transactions)
        source = FileSource(str(path))
        batches = [(bytes(buf), bytes(meta)) for buf, meta in source.batches() if meta]
        linktype = source.linktype
        source.close()
        protocols = importlib.import_module(f"captures.{name}").PROTOCOLS
        real, no_op = [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            real.append(run(batches, linktype, build_modules(protocols)))
            no_op.append(run(batches, linktype, no_ops(build_modules(protocols))))
        seconds, packets, events = min(real)
        base = min(no_op)[0]
        module_us = (seconds - base) / events * 1e6 if events else float("nan")
        print(f"{name:12} {packets:9,} {seconds:8.2f} {packets / seconds:11,.0f} {events:12,} {events / seconds:10,.0f} "
              f"{base:8.2f} {module_us:9.1f}")


if __name__ == "__main__":
    main()
