"""The report's figures, folded from the very events the shipper publishes (and the packets' timestamps).

Everything is aggregated as it arrives, in tables with a fixed number of keys: a report of any capture
takes bounded memory, and a key that no longer fits is added to an `(other)` row and counted under
`limits.dropped_keys`, so the page says when a top-N table is incomplete.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..event import host_port
from ..pipeline.api import Publisher

__all__ = ["Limits", "BoundedCounter", "LatencySample", "PacketTimeline", "ReportAggregator", "percentile",
           "error_kind"]

OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class Limits:
    max_keys: int = 100_000  # per table (talkers, services, names, ...)
    max_samples: int = 100_000  # response times kept per service; beyond that a uniform reservoir
    top: int = 10  # rows in each top-N table


class BoundedCounter:
    """Sums of one or more figures per key, at most `max_keys` keys; later keys fold into `(other)`."""

    __slots__ = ("max_keys", "width", "rows", "dropped")

    def __init__(self, max_keys: int, width: int = 1) -> None:
        self.max_keys = max_keys
        self.width = width
        self.rows: dict[Any, list[int]] = {}
        self.dropped = 0

    def add(self, key: Any, *values: int) -> None:
        row = self.rows.get(key)
        if row is None:
            if len(self.rows) >= self.max_keys:
                self.dropped += 1
                key = OTHER
                row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0] * self.width
        for i, value in enumerate(values):
            row[i] += value

    def top(self, n: int, column: int = 0) -> list[tuple[Any, list[int]]]:
        return heapq.nlargest(n, self.rows.items(), key=lambda item: (item[1][column], str(item[0])))


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list: the smallest value with at least q of them at or below."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class LatencySample:
    """Every response time up to `max_samples`, then a uniform reservoir of that size (Algorithm R)."""

    __slots__ = ("max_samples", "values", "count", "maximum", "_rng")

    def __init__(self, max_samples: int, seed: int = 0) -> None:
        self.max_samples = max_samples
        self.values: list[float] = []
        self.count = 0
        self.maximum = 0.0
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.count += 1
        if value > self.maximum:
            self.maximum = value
        if len(self.values) < self.max_samples:
            self.values.append(value)
            return
        slot = self._rng.randrange(self.count)
        if slot < self.max_samples:
            self.values[slot] = value

    @property
    def exact(self) -> bool:
        return self.count == len(self.values)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        out: dict[str, Any] = {f"p{round(q * 100)}": percentile(ordered, q) for q in (0.5, 0.9, 0.99)}
        out["max"] = self.maximum if self.count else math.nan
        out["samples"] = len(ordered)
        out["exact"] = self.exact
        return out


class PacketTimeline:
    """Packets and captured bytes per second of packet time, from the capture's batch records."""

    __slots__ = ("seconds", "first", "last", "packets", "bytes")

    def __init__(self, max_keys: int) -> None:
        self.seconds = BoundedCounter(max_keys, 2)
        self.first: float | None = None
        self.last: float | None = None
        self.packets = 0
        self.bytes = 0

    def add_batch(self, meta: bytes) -> None:
        words = memoryview(meta).cast("I")
        secs, usecs, caplens = words[0::4], words[1::4], words[3::4]
        if not secs:
            return
        if self.first is None:
            self.first = secs[0] + usecs[0] / 1e6
        self.last = secs[-1] + usecs[-1] / 1e6
        self.packets += len(secs)
        if secs[0] == secs[-1]:  # the common case at any real rate: the whole batch in one second
            total = sum(caplens)
            self.bytes += total
            self.seconds.add(secs[0], len(secs), total)
            return
        for sec, group in itertools.groupby(zip(secs, caplens, strict=True), key=lambda pair: pair[0]):
            lengths = [caplen for _, caplen in group]
            total = sum(lengths)
            self.bytes += total
            self.seconds.add(sec, len(lengths), total)

    def tap(self, batches: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        for buf, meta in batches:
            if meta:
                self.add_batch(meta)
            yield buf, meta


def _get(event: dict[str, Any], *path: str) -> Any:
    node: Any = event
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def error_kind(event: dict[str, Any]) -> str | None:
    """What went wrong in a transaction, in its protocol's own terms; None if it succeeded."""
    kind = event.get("type")
    if kind == "http":
        code = _get(event, "http", "response", "status_code")
        if isinstance(code, int) and code >= 400:
            return f"HTTP {code // 100}xx"
    elif kind == "dns":
        rcode = _get(event, "dns", "response_code")
        if rcode and rcode != "NOERROR":
            return f"DNS {rcode}"
    if event.get("status", "OK") == "OK":
        return None
    module = event.get(kind) if isinstance(kind, str) else None
    if isinstance(module, dict):
        code = module.get("error_code")
        if code is not None:
            return f"{kind} error {code}"
        text = module.get("error")
        if isinstance(text, str) and text:
            return f"{kind} {text.split()[0]}"
    return f"{kind} {event.get('status')}"


def _endpoint(side: Any) -> str:
    if not isinstance(side, dict):
        return "?"
    return host_port(side.get("ip", "?"), side.get("port"))


def _summary(event: dict[str, Any]) -> str:
    """A short description of a transaction: its query, or method and path."""
    for text in (event.get("query"), _get(event, "url", "full"), event.get("path"), event.get("method")):
        if isinstance(text, str) and text:
            return text if len(text) <= 120 else text[:117] + "..."
    return str(event.get("type"))


class _Service:
    __slots__ = ("transactions", "errors", "latency")

    def __init__(self, max_samples: int, seed: int) -> None:
        self.transactions = 0
        self.errors = 0
        self.latency = LatencySample(max_samples, seed)


class ReportAggregator(Publisher):
    """A publisher that keeps no event: it folds each into the report's tables."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        keys = limits.max_keys
        self.events = 0
        self.flows = 0
        self.flow_packets = 0
        self.flow_bytes = 0
        self.talkers = BoundedCounter(keys, 3)  # ip -> bytes, packets, flows
        self.conversations = BoundedCounter(keys, 3)  # (ip, ip) -> bytes, packets, flows
        self.transports = BoundedCounter(keys, 3)  # transport -> bytes, packets, flows
        self.transactions = BoundedCounter(keys)  # protocol -> count
        self.errors = BoundedCounter(keys)  # protocol -> errors
        self.error_kinds = BoundedCounter(keys)  # kind -> count
        self.error_examples: dict[str, dict[str, Any]] = {}
        self.services: dict[str, _Service] = {}
        self.services_dropped = 0
        self.slowest: list[tuple[float, int, dict[str, Any]]] = []
        self.per_second = BoundedCounter(keys)  # "YYYY-mm-ddTHH:MM:SS" -> transactions
        self.dns_names = BoundedCounter(keys)
        self.dns_answers = BoundedCounter(keys)
        self.http_hosts = BoundedCounter(keys)
        self.http_urls = BoundedCounter(keys)
        self.tls_names = BoundedCounter(keys)
        self.tls_versions = BoundedCounter(keys)
        self._sequence = itertools.count()

    # --- Publisher ---------------------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> bool:
        self.events += 1
        if event.get("type") == "flow":
            self._flow(event)
        else:
            self._transaction(event)
        return True

    def close(self, timeout: float | None = None) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {"report": {"events": self.events}}

    # --- folding -----------------------------------------------------------------------------------

    def _flow(self, event: dict[str, Any]) -> None:
        network = event.get("network") or {}
        source, destination = event.get("source") or {}, event.get("destination") or {}
        packets, nbytes = int(network.get("packets", 0)), int(network.get("bytes", 0))
        self.flows += 1
        self.flow_packets += packets
        self.flow_bytes += nbytes
        src, dst = source.get("ip"), destination.get("ip")
        if src is None or dst is None:
            return
        self.talkers.add(src, int(source.get("bytes", 0)) + int(destination.get("bytes", 0)), packets, 1)
        if dst != src:
            self.talkers.add(dst, int(source.get("bytes", 0)) + int(destination.get("bytes", 0)), packets, 1)
        pair = (src, dst) if str(src) <= str(dst) else (dst, src)
        self.conversations.add(pair, nbytes, packets, 1)
        self.transports.add(network.get("transport", "?"), nbytes, packets, 1)

    def _transaction(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        self.transactions.add(kind, 1)
        stamp = event.get("@timestamp")
        if isinstance(stamp, str):
            self.per_second.add(stamp[:19], 1)
        service_key = f"{kind} {_endpoint(event.get('server') or event.get('destination'))}"
        service = self.services.get(service_key)
        if service is None:
            if len(self.services) >= self.limits.max_keys:
                self.services_dropped += 1
                service_key = f"{kind} {OTHER}"
                service = self.services.get(service_key)
            if service is None:
                service = self.services[service_key] = _Service(self.limits.max_samples, len(self.services))
        service.transactions += 1
        duration_ns = _get(event, "event", "duration")
        if isinstance(duration_ns, int):
            millis = duration_ns / 1e6
            service.latency.add(millis)
            self._keep_slowest(millis, kind, service_key, event)
        problem = error_kind(event)
        if problem is not None:
            service.errors += 1
            self.errors.add(kind, 1)
            self.error_kinds.add(problem, 1)
            if problem not in self.error_examples and len(self.error_examples) < self.limits.max_keys:
                self.error_examples[problem] = self._row(kind, service_key, event)
        self._details(kind, event)

    def _row(self, kind: str, service: str, event: dict[str, Any]) -> dict[str, Any]:
        duration_ns = _get(event, "event", "duration")
        return {
            "protocol": kind,
            "service": service,
            "what": _summary(event),
            "status": event.get("status"),
            "client": _endpoint(event.get("client") or event.get("source")),
            "time": event.get("@timestamp"),
            "duration_ms": duration_ns / 1e6 if isinstance(duration_ns, int) else None,
            "community_id": _get(event, "network", "community_id"),
        }

    def _keep_slowest(self, millis: float, kind: str, service: str, event: dict[str, Any]) -> None:
        heap = self.slowest
        if len(heap) >= self.limits.top and millis <= heap[0][0]:
            return
        entry = (millis, next(self._sequence), self._row(kind, service, event))
        if len(heap) < self.limits.top:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)

    def _details(self, kind: str, event: dict[str, Any]) -> None:
        if kind == "dns":
            name = _get(event, "dns", "question", "name")
            if isinstance(name, str):
                self.dns_names.add(name, 1)
            for answer in _get(event, "dns", "answers") or ():
                data = answer.get("data") if isinstance(answer, dict) else None
                if data is not None:
                    self.dns_answers.add(str(data), 1)
        elif kind == "http":
            host, full = _get(event, "url", "domain"), _get(event, "url", "full")
            if isinstance(host, str):
                self.http_hosts.add(host, 1)
            if isinstance(full, str):
                self.http_urls.add(full, 1)
        server_name, version = _get(event, "tls", "client", "server_name"), _get(event, "tls", "version")
        if isinstance(server_name, str):
            self.tls_names.add(server_name, 1)
        if version is not None:
            self.tls_versions.add(str(version), 1)

    # --- results -----------------------------------------------------------------------------------

    def dropped_keys(self) -> int:
        tables = (self.talkers, self.conversations, self.transports, self.transactions, self.errors,
                  self.error_kinds, self.per_second, self.dns_names, self.dns_answers, self.http_hosts,
                  self.http_urls, self.tls_names, self.tls_versions)
        return sum(table.dropped for table in tables) + self.services_dropped
