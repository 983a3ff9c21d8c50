"""Wires one run together from a validated config: source -> engine -> flows/dispatcher -> publisher."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from . import allocator, debuglog, hotpath
from . import settings as s
from .capture import FileSource, LiveSource
from .collector_pacing import CollectorPacing
from .compat import identity_of
from .decode.decoder import Decoder
from .decode.fragments import FragmentReassembler
from .direction import DirectionClassifier
from .engine import Engine
from .event import ECS_VERSION, OMIT, Envelope, deep_merge, iso_timestamp, transaction_document
from .flow_aggregate import Rollup
from .flows import Flow, FlowReporter, FlowTable
from .metrics import Metrics
from .modules.flow_aggregate import rollup_event
from .modules.flows import flow_documents, flow_event, flow_event_json
from .outgoing import outgoing_filter
from .pipeline.api import Publisher
from .processors import Chain, ProcessorStats, build_chain
from .procs import ProcessInfo, ProcessWatcher
from .protocol import Status, Transaction
from .raw_index import RawIndex
from .settings import Setting, Spec

if TYPE_CHECKING:  # imported where a live af_packet capture opens (it loads ctypes)
    from .afpacket import AfPacketSource
    from .dispatch import Dispatcher

__all__ = ["Shipper", "RunSummary", "StopSignals", "RUN_SETTINGS", "build_bpf_filter", "open_source", "build_shipper"]

log = logging.getLogger("packetshipper")

# Top-level `packetshipper.*` keys of a run (Packetbeat's names and meanings).
RUN_SETTINGS: Spec = {
    "shutdown_timeout": Setting(s.at_least(0, s.duration), 0.0,
                                "on SIGINT/SIGTERM, how long the output may still take to deliver what is queued; "
                                "then the rest is dropped (memory queue) or kept for the next run (disk queue); "
                                "0s: do not wait (a working output still gets one quick last attempt, at most 0.5s). Without a "
                                "signal (end of -I file) delivery has no time limit"),
}

# Seconds past the shutdown deadline after which the process exits whatever still blocks it; while the
# flows and transactions are still being flushed into the queue (and that is moving), it waits longer.
_BACKSTOP = 1.5



class StopSignals:
    """SIGINT/SIGTERM for one run: the first stops it (the capture at once, then the output gets at most
    `shutdown_timeout` seconds), a second one exits at once. Either way the process's last log line says
    how many events were left unsent (`final_line`).

    The handler only writes the signal number to a pipe: it runs in the main thread between two
    bytecodes, maybe while that thread holds a lock stopping needs (the queue's, a log handler's).
    A watcher thread reads the pipe and does the work.
    """

    def __init__(self, shutdown_timeout: float,
                 signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.shutdown_timeout = shutdown_timeout
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._lock = threading.Lock()
        self._shipper: Shipper | None = None
        self._deadline: float | None = None
        self._final_written = False
        self._previous = {sig: signal.signal(sig, self._handler) for sig in signals}
        threading.Thread(target=self._watch, name="stop-signals", daemon=True).start()

    def attach(self, shipper: Shipper) -> None:
        """The run to stop; a signal that came before (during start-up) stops it now."""
        with self._lock:
            self._shipper = shipper
            deadline = self._deadline
        if deadline is not None:
            shipper.stop_by(deadline)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        with contextlib.suppress(OSError):
            os.close(self._write_fd)  # the watcher reads end-of-file and returns

    def final_line(self, level: int, message: str) -> bool:
        """Log `message` as the process's last line: every log handler drops what comes after it.
        False if a last line was written already."""
        debuglog.flush_all()  # counts of rate-limited debug lines come before the last line
        handlers = list(log.handlers)
        with self._lock:
            if self._final_written:
                return False
            self._final_written = True
        for handler in handlers:  # a line another thread is writing now comes first, none after ours
            handler.acquire()
        try:
            log.log(level, message)
            for handler in handlers:
                handler.flush()
                handler.emit = _discard  # type: ignore[method-assign,assignment]
            logging.disable(logging.CRITICAL)
        finally:
            for handler in handlers:
                handler.release()
        return True

    def exit_if_stopped(self, status: int) -> None:
        """After a signal: end the process now, with `status`, once the last line is written. Interpreter
        exit would join threads, run atexit hooks and flush stdout, any of which can block behind an
        output call that was abandoned; everything that matters was flushed already."""
        if self._deadline is None:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                _flush_within(stream, 0.5)
        os._exit(status)

    def _handler(self, signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write_fd, bytes([signum]))

    def _watch(self) -> None:
        received = 0
        while True:
            try:
                data = os.read(self._read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                received += 1
                name = _signal_name(signum)
                if received == 1:
                    self._first(name)
                else:
                    self._exit_now(f"received a second signal ({name}): exiting at once")

    def _first(self, name: str) -> None:
        timeout = self.shutdown_timeout
        with self._lock:
            self._deadline = time.monotonic() + timeout
            shipper, deadline = self._shipper, self._deadline
        log.info("received %s, stopping: the output has %gs (packetshipper.shutdown_timeout) to deliver what is "
                 "queued; a second signal exits at once", name, timeout)
        if shipper is not None:
            shipper.stop_by(deadline)
        self._arm_backstop(timeout + _BACKSTOP, name, -1)

    def _arm_backstop(self, seconds: float, name: str, events: int) -> None:
        backstop = threading.Timer(seconds, self._backstop, (name, events))
        backstop.daemon = True
        backstop.start()

    def _backstop(self, name: str, events_before: int) -> None:
        with self._lock:
            shipper = self._shipper
        if shipper is not None and shipper.flushing and shipper.events != events_before:
            self._arm_backstop(_BACKSTOP, name, shipper.events)
            return
        self._exit_now(f"not stopped {self.shutdown_timeout + _BACKSTOP:g}s after {name}: exiting now")

    def _exit_now(self, reason: str) -> None:
        with self._lock:
            shipper = self._shipper
        count, fate = shipper.publisher.unsent() if shipper is not None else (0, "nothing queued yet")
        self.final_line(logging.WARNING, f"{reason}; unsent {count}: {fate}")
        os._exit(0)  # a signal asked for the stop: exit status 0, as after a graceful one


def _discard(_record: logging.LogRecord) -> None:
    pass


def _flush_within(stream: Any, seconds: float) -> None:
    flusher = threading.Thread(target=stream.flush, name="flush", daemon=True)
    flusher.start()
    flusher.join(seconds)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


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


def open_source(config: dict[str, Any], modules: list[Any]) -> FileSource | LiveSource | AfPacketSource:
    iface = config["packetshipper"]["interfaces"]
    bpf = iface["bpf_filter"]
    if bpf is None and not config["packetshipper"]["flows"]["enabled"]:
        bpf = build_bpf_filter(modules, iface["with_vlans"])
    if iface["file"]:
        return FileSource(iface["file"], topspeed=iface["topspeed"], bpf=iface["bpf_filter"], loops=iface["loop"])
    if iface["type"] == "af_packet" and iface["device"] != "any":  # `any`: libpcap's cooked capture, as before
        from .afpacket import AfPacketSource

        return AfPacketSource(iface["device"], snaplen=iface["snaplen"], promiscuous=iface["promiscuous"],
                              buffer_size_mb=iface["buffer_size_mb"], bpf=bpf, fanout_group=iface["fanout_group"])
    return LiveSource(iface["device"], snaplen=iface["snaplen"], promiscuous=iface["promiscuous"],
                      buffer_size_mb=iface["buffer_size_mb"], bpf=bpf)


_TRANSPORT_NUMBERS = {"tcp": 6, "udp": 17}


def _ip_bytes(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def _add_processes(event: dict[str, Any], source: ProcessInfo | None, destination: ProcessInfo | None) -> None:
    """source.process.*, destination.process.*, and process.* for the source's (else the destination's)."""
    if source is not None:
        event["source"]["process"] = source.fields()
    if destination is not None:
        event["destination"]["process"] = destination.fields()
    local = source or destination
    if local is not None:
        event["process"] = local.fields()


_DOCUMENTS_AT_ONCE = 256  # flow documents made before they are queued (the queue may then wait)


class Shipper:
    """One capture run. `run()` returns when the source ends or `stop()` is called (signals do that)."""

    def __init__(self, config: dict[str, Any], *, publisher: Publisher | None = None,
                 metrics: Metrics | None = None, source: Any = None) -> None:
        from .dispatch import DISPATCH_SETTINGS, Dispatcher
        from .registry import build_modules

        self.config = config
        self.metrics = metrics or Metrics()
        ps = config["packetshipper"]
        self.modules = build_modules(ps["protocols"])
        self.source = source or open_source(config, self.modules)
        self.live = getattr(self.source, "live", isinstance(self.source, LiveSource))
        if publisher is None:
            from .pipeline import build_publisher

            publisher = build_publisher(config, self.metrics, live=self.live)
        self.publisher = publisher
        self.envelope = Envelope(config["name"], config["tags"], config["fields"], config["fields_under_root"],
                                 identity_of(config).beat)
        self.events = 0
        # Wrappers of the source's batch iterator (progress line, report timeline): per batch, not per packet.
        self.batch_taps: list[Callable[[Iterator[tuple[bytes, bytes]]], Iterator[tuple[bytes, bytes]]]] = []
        self.shutdown_timeout = float(ps.get("shutdown_timeout", 0.0))
        self.flushing = False  # True while the engine flushes flows and transactions at the end
        self._flow_cfg = ps["flows"]
        networks = ps["interfaces"]["internal_networks"]
        self._direction = DirectionClassifier(networks) if networks else None
        self._outgoing = outgoing_filter(ps, self.live)
        # Local processes: live only (a file's sockets are long gone).
        self._procs = ProcessWatcher(ps["procs"]) if ps["procs"]["enabled"] and self.live else None
        flows = FlowTable(self._flow_cfg, self._publish_flow, ps["interfaces"]["ephemeral_ports"],
                          self._publish_rollup, self._find_processes if self._procs is not None else None) \
            if self._flow_cfg["enabled"] else None
        dispatcher = None
        if self.modules:
            dispatch_settings = {key: ps[key] for key in DISPATCH_SETTINGS}
            plain = self._direction is None and self._procs is None
            publish: Callable[[dict[str, Any]], None] = self._publish if plain else self._publish_transaction
            if self._outgoing is not None:
                publish = self._outgoing.guard(publish)
            dispatcher = Dispatcher(self.modules, publish, self.envelope, dispatch_settings)
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
        if self._outgoing is not None:
            self.metrics.register("ignore_outgoing", self._outgoing.stats)
        self._use_processors(dispatcher)
        self._use_raw_index(dispatcher)
        self._transaction_documents(dispatcher)
        documents = self._flow_documents()
        self._flow_sink = documents[0] if documents is not None else self._publish_flow_event
        if documents is not None and flows is not None:
            flows.report_many = documents[1]

    def _use_processors(self, dispatcher: Any) -> None:
        """Chains of Beats processors: a protocol's (or the flows') own, then the global ones. Where none
        are configured, events take the plain path: no cost per event."""
        stats = ProcessorStats()
        self.processor_stats: ProcessorStats | None = None
        top = (self.config.get("processors") or [], "processors")
        flows = build_chain([(self._flow_cfg.get("processors") or [], "packetshipper.flows.processors"), top], stats)
        self._emit_flow: Callable[[dict[str, Any]], None] = (
            self._publish if flows is None else self._sink(flows, enrich=False))
        used = flows is not None
        plain = self._direction is None and self._procs is None
        for runner in dispatcher.runners if dispatcher is not None else []:
            own = (runner.module.config.get("processors") or [], f"packetshipper.protocols.{runner.name}.processors")
            chain = build_chain([own, top], stats)
            if chain is not None:
                sink = self._sink(chain, enrich=not plain)
                runner.emit = sink if self._outgoing is None else self._outgoing.guard(sink)
                used = True
        if used:
            self.processor_stats = stats
            self.metrics.register("processors", stats.snapshot)

    def _use_raw_index(self, dispatcher: Any) -> None:
        """Beats' per-protocol and flows `index`: `@metadata.raw_index`, set before processors run."""
        stamps: list[RawIndex] = []
        for runner in dispatcher.runners if dispatcher is not None else []:
            if runner.module.config.get("index"):
                stamps.append(RawIndex(runner.module.config["index"], f"packetshipper.protocols.{runner.name}.index"))
                runner.emit = stamps[-1].wrap(runner.emit)
        if self._flow_cfg.get("index"):
            stamps.append(RawIndex(self._flow_cfg["index"], "packetshipper.flows.index"))
            self._emit_flow = stamps[-1].wrap(self._emit_flow)
        if stamps:
            self.metrics.register("raw_index", lambda: {stamp.name: stamp.snapshot() for stamp in stamps})

    def _sink(self, chain: Chain, enrich: bool) -> Callable[[dict[str, Any]], None]:
        publish, enrich_event = self._publish, self._enrich_transaction

        def sink(event: dict[str, Any]) -> None:
            if enrich:
                enrich_event(event)
            processed = chain(event)
            if processed is not None:
                publish(processed)

        return sink

    def _capture_stats(self) -> dict[str, Any]:
        out = self.engine.stats()
        out.update(self.source.stats())
        out["events"] = self.events
        return out

    def _publish(self, event: dict[str, Any]) -> None:
        self.events += 1
        self.publisher.publish(event)

    def _publish_transaction(self, event: dict[str, Any]) -> None:
        self._enrich_transaction(event)
        self._publish(event)

    def _enrich_transaction(self, event: dict[str, Any]) -> None:
        """With internal_networks: network.direction from the transaction's client and server."""
        client, server, network = event.get("client"), event.get("server"), event.get("network")
        if self._direction is not None and client and server and isinstance(network, dict):
            network["direction"] = self._direction(client["ip"], server["ip"])
        if self._procs is not None and client and server and "port" in client and "port" in server:
            proto = _TRANSPORT_NUMBERS.get(str(network.get("transport"))) if isinstance(network, dict) else None
            if proto is not None:
                _add_processes(event, self._procs.lookup(proto, _ip_bytes(client["ip"]), client["port"]),
                               self._procs.lookup(proto, _ip_bytes(server["ip"]), server["port"]))

    def _find_processes(self, flow: Flow) -> None:
        if self._procs is not None and flow.proto in (6, 17):
            src, dst, sport, dport = flow.endpoints()
            found = (self._procs.lookup(flow.proto, src, sport), self._procs.lookup(flow.proto, dst, dport))
            flow.processes = found if any(found) else None

    def _publish_rollup(self, key: tuple[Any, ...], rollup: Rollup, start: float, end: float) -> None:
        cfg = self._flow_cfg
        event = rollup_event(cfg["aggregate"]["key"], key, rollup, start, end)
        self._emit_flow(self.envelope.wrap(event, cfg["tags"], cfg["fields"], cfg["fields_under_root"]))

    def _publish_flow(self, flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        self._flow_sink(flow, now, final, counts)

    def _transaction_documents(self, dispatcher: Dispatcher | None) -> None:
        """Transaction events written as JSON in C (`transaction_document`) and queued as they are, with no
        event dict, for each module whose events nothing reads or changes before the queue (no processors,
        `index`, tags, custom fields, `network.direction`, processes or ignore_outgoing), where the publisher
        takes documents. The others, and each event the writer declines, take the dict path."""
        envelope = self.envelope
        if (transaction_document is None or dispatcher is None or envelope.tags or envelope.fields
                or self._procs is not None or self._direction is not None):
            return
        tail = b"," + orjson.dumps({"agent": envelope.agent, "ecs": {"version": ECS_VERSION}, "host": envelope.host})[1:]
        for runner in dispatcher.runners:
            if runner.emit != self._publish or runner.tags or runner.fields:
                continue
            known = {"type": runner.name, "event.kind": "event", "event.dataset": runner.name,
                     "ecs.version": ECS_VERSION, "host.name": envelope.host["name"],
                     **{f"agent.{key}": value for key, value in envelope.agent.items()}}
            sink = self.publisher.document_sink(frozenset(known))
            if sink is not None:
                runner.document = self._document_publisher(runner.name, sink, known, tail)

    def _document_publisher(self, name: str, sink: Callable[[Sequence[bytes], Mapping[str, Any]], int],
                            known: dict[str, Any], tail: bytes) -> Callable[[Transaction[Any, Any], Any], bool]:
        ok, write = Status.OK, transaction_document
        assert write is not None  # called only where the compiled path has it

        def publish_document(txn: Transaction[Any, Any], fields: Any) -> bool:
            if not hotpath.enabled or type(fields) is not dict or "type" in fields:
                return False
            event = fields.get("event")
            if event is not None and (type(event) is not dict or "kind" in event or "dataset" in event):
                return False  # the fields may change what `known` says: the dict path reads the event
            doc = write(name, txn, fields, ok, OMIT, Mapping, deep_merge, iso_timestamp, tail)
            if doc is None:
                return False
            self.events += 1
            sink((doc,), known)
            return True

        return publish_document

    def _flow_documents(self) -> tuple[FlowReporter, Callable[[list[Flow], float, bool], None]] | None:
        """Flow events made as JSON in C (`flow_event_json`, `flow_documents`) and queued as they are, with
        no dict per event: where nothing between the flow table and the queue reads or changes them (no
        processors, `index`, tags, custom fields, `network.direction` or processes) and the publisher takes
        documents (`Publisher.document_sink`). The reporter of one flow, and of many at once (the table's
        `report_many`); otherwise None and `_publish_flow_event` builds each event."""
        cfg, envelope = self._flow_cfg, self.envelope
        if (flow_event_json is None or self._emit_flow != self._publish or self._procs is not None
                or self._direction is not None or cfg["tags"] or cfg["fields"] or envelope.tags or envelope.fields):
            return None
        known = {"type": "flow", "event.kind": "event", "event.action": "network_flow", "event.dataset": "flow",
                 "ecs.version": ECS_VERSION, "host.name": envelope.host["name"],
                 **{f"agent.{key}": value for key, value in envelope.agent.items()}}
        sink = self.publisher.document_sink(frozenset(known))
        if sink is None:
            return None
        tail = b"," + orjson.dumps({"agent": envelope.agent, "ecs": {"version": ECS_VERSION}, "host": envelope.host})[1:]
        fallback = self._publish_flow_event

        def publish_document(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
            doc = flow_event_json(flow, now, final, counts)
            if doc is None:  # the reference builds this one (`-d flows` on, say)
                fallback(flow, now, final, counts)
                return
            self.events += 1
            sink((doc[:-1] + tail,), known)

        def publish_documents(flows: list[Flow], now: float, final: bool) -> None:
            for start in range(0, len(flows), _DOCUMENTS_AT_ONCE):  # a bounded number of documents in hand
                chunk = flows[start:start + _DOCUMENTS_AT_ONCE]
                docs = flow_documents(chunk, now, final, tail) if flow_documents is not None else None
                if docs is None:
                    for flow in chunk:
                        publish_document(flow, now, final, (flow.packets0, flow.bytes0, flow.packets1, flow.bytes1))
                    continue
                self.events += len(docs)
                sink(docs, known)

        return publish_document, publish_documents

    def _publish_flow_event(self, flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        cfg = self._flow_cfg
        event = self.envelope.wrap(flow_event(flow, now, final, counts), cfg["tags"], cfg["fields"],
                                   cfg["fields_under_root"])
        if self._procs is not None:
            if flow.processes is None:  # not found when the flow began: perhaps /proc knows it now
                self._find_processes(flow)
            if flow.processes is not None:
                _add_processes(event, *flow.processes)
        if self._direction is not None:
            source, destination = event["source"]["ip"], event["destination"]["ip"]
            event["network"]["direction"] = (self._direction(source, destination) if flow.client_is_source
                                             else self._direction(destination, source))
        self._emit_flow(event)

    def stop(self) -> None:
        self.source.stop()

    def stop_by(self, deadline: float) -> None:
        """Stop the capture now; the output may deliver until `deadline` (time.monotonic()), then what is
        left stays unsent. Thread-safe: the stop-signal watcher calls it."""
        self.source.stop()
        self.publisher.shutdown_by(deadline)

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGINT/SIGTERM stop this run (see StopSignals); returns a function restoring the previous handlers."""
        signals = StopSignals(self.shutdown_timeout)
        signals.attach(self)
        return signals.restore

    def run(self, close_publisher: bool = True) -> RunSummary:
        engine = self.engine
        started = time.monotonic()
        live = self.live
        allocator.tune()
        collector = CollectorPacing()
        collector.start()
        try:
            batches = self.source.batches()
            for tap in self.batch_taps:
                batches = tap(batches)
            for buf, meta in batches:
                collector.poll()
                if meta:
                    engine.process_batch(buf, meta)
                elif live:
                    engine.advance(time.time())
        finally:
            # Whatever ended the loop, queued events are still delivered and the capture released.
            self.flushing = True
            try:
                engine.finish(time.time() if live else engine.last_ts)
            finally:
                self.flushing = False
                try:
                    self.source.close()
                    if close_publisher:
                        self.publisher.close()
                finally:
                    collector.stop()
        seconds = time.monotonic() - started
        return RunSummary(engine.received, self.events, seconds, self.metrics.snapshot())


def build_shipper(config: dict[str, Any], *, publisher: Publisher | None = None, metrics: Metrics | None = None) -> Any:
    """The run `config` asks for: one Shipper, or with `packetshipper.workers` above 1 the Supervisor of
    that many worker processes (the same attributes and methods as far as the command line uses them)."""
    if config["packetshipper"]["workers"] > 1:
        from .workers import Supervisor

        return Supervisor(config, publisher=publisher, metrics=metrics)
    return Shipper(config, publisher=publisher, metrics=metrics)
