"""Wires one run together from a validated config: source -> engine -> flows/dispatcher -> publisher."""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .capture import FileSource, LiveSource
from .decode.decoder import Decoder
from .decode.fragments import FragmentReassembler
from .engine import Engine
from .event import Envelope
from .flows import Flow, FlowTable
from .metrics import Metrics
from .modules.flows import flow_event
from .pipeline.api import Publisher

__all__ = ["Shipper", "RunSummary", "build_bpf_filter", "open_source"]

log = logging.getLogger("packetshipper")


@dataclass(frozen=True, slots=True)
class RunSummary:
    packets: int
    events: int
    seconds: float
    stats: dict[str, Any]


def build_bpf_filter(modules: list[Any], with_vlans: bool = False) -> str | None:
    """Packetbeat's generated filter: the enabled modules' ports (used when flows are off)."""
    clauses: list[str] = []
    for module in modules:
        for transport in sorted(module.transports):
            if transport == "icmp":
                clauses.extend(["icmp", "icmp6"])
                continue
            clauses.extend(f"{transport} port {port}" for port in module.ports)
    if not clauses:
        return None
    unique = " or ".join(dict.fromkeys(clauses))
    return f"({unique}) or (vlan and ({unique}))" if with_vlans else unique


def open_source(config: dict[str, Any], modules: list[Any]) -> FileSource | LiveSource:
    iface = config["packetshipper"]["interfaces"]
    bpf = iface["bpf_filter"]
    if bpf is None and not config["packetshipper"]["flows"]["enabled"]:
        bpf = build_bpf_filter(modules, iface["with_vlans"])
    if iface["file"]:
        return FileSource(iface["file"], topspeed=iface["topspeed"], bpf=iface["bpf_filter"], loops=iface["loop"])
    return LiveSource(iface["device"], snaplen=iface["snaplen"], promiscuous=iface["promiscuous"],
                      buffer_size_mb=iface["buffer_size_mb"], bpf=bpf)


def _tune_garbage_collector() -> None:
    """Flows, connections and events hold no reference cycles, but there are many of them alive at once:
    with the default thresholds the cyclic collector rescans that whole heap every few hundred events
    (measured: flow events 3x slower at 50,000 live flows). Collect rarely, and never rescan what was
    loaded at start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


class Shipper:
    """One capture run. `run()` returns when the source ends or `stop()` is called (signals do that)."""

    def __init__(self, config: dict[str, Any], *, publisher: Publisher | None = None,
                 metrics: Metrics | None = None, source: FileSource | LiveSource | None = None) -> None:
        from .dispatch import DISPATCH_SETTINGS, Dispatcher
        from .registry import build_modules

        self.config = config
        self.metrics = metrics or Metrics()
        ps = config["packetshipper"]
        self.modules = build_modules(ps["protocols"])
        self.source = source or open_source(config, self.modules)
        self.live = isinstance(self.source, LiveSource)
        if publisher is None:
            from .pipeline import build_publisher

            publisher = build_publisher(config, self.metrics, live=self.live)
        self.publisher = publisher
        self.envelope = Envelope(config["name"], config["tags"], config["fields"], config["fields_under_root"])
        self.events = 0
        self._flow_cfg = ps["flows"]
        flows = FlowTable(self._flow_cfg, self._publish_flow) if self._flow_cfg["enabled"] else None
        dispatcher = None
        if self.modules:
            dispatch_settings = {key: ps[key] for key in DISPATCH_SETTINGS}
            dispatcher = Dispatcher(self.modules, self._publish, self.envelope, dispatch_settings)
        frag = ps["ip_fragments"]
        decoder = Decoder(self.source.linktype, FragmentReassembler(
            max_datagrams=frag["max_datagrams"], max_fragments=frag["max_fragments"],
            max_datagram_bytes=frag["max_datagram_bytes"], timeout=frag["timeout"]))
        self.engine = Engine(decoder, flows, dispatcher)
        self.metrics.register("capture", self._capture_stats)
        if flows is not None:
            self.metrics.register("flows", flows.stats)
        if dispatcher is not None:
            self.metrics.register("protocols", dispatcher.stats)

    def _capture_stats(self) -> dict[str, Any]:
        out = self.engine.stats()
        out.update(self.source.stats())
        out["events"] = self.events
        return out

    def _publish(self, event: dict[str, Any]) -> None:
        self.events += 1
        self.publisher.publish(event)

    def _publish_flow(self, flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        cfg = self._flow_cfg
        event = self.envelope.wrap(flow_event(flow, now, final, counts), cfg["tags"], cfg["fields"],
                                   cfg["fields_under_root"])
        self._publish(event)

    def stop(self) -> None:
        self.source.stop()

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGINT/SIGTERM stop the capture; returns a function restoring the previous handlers."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, _frame: Any) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stop()

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, previous_handler in previous.items():
                signal.signal(sig, previous_handler)

        return restore

    def run(self, close_publisher: bool = True) -> RunSummary:
        _tune_garbage_collector()
        engine = self.engine
        started = time.monotonic()
        live = self.live
        try:
            for buf, meta in self.source.batches():
                if meta:
                    engine.process_batch(buf, meta)
                elif live:
                    engine.advance(time.time())
        finally:
            # Whatever ended the loop, queued events are still delivered and the capture released.
            try:
                engine.finish(time.time() if live else engine.last_ts)
            finally:
                self.source.close()
                if close_publisher:
                    self.publisher.close()
        seconds = time.monotonic() - started
        return RunSummary(engine.received, self.events, seconds, self.metrics.snapshot())
