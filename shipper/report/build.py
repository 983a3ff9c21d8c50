"""`make_report`: read a capture through the real shipper and return the report's figures as plain data."""

from __future__ import annotations

import bisect
import calendar
import copy
import math
import time
from typing import Any

from ..capture import CaptureError, FileSource, linktype_name
from ..runner import Shipper, open_source
from .aggregate import Limits, PacketTimeline, ReportAggregator

__all__ = ["make_report", "report_config", "MAX_TIMELINE_POINTS", "MAX_SERVICES"]

MAX_TIMELINE_POINTS = 600  # a longer capture is shown in coarser buckets
MAX_SERVICES = 100  # rows of the services table (all are counted in the totals)


def report_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as given, but with flows on and reported once, when they end: the report needs each
    flow's totals, not its periodic progress."""
    config = copy.deepcopy(config)
    flows = config["packetshipper"]["flows"]
    flows.update(enabled=True, period=-1.0, enable_delta_flow_reporting=False)
    return config


def make_report(config: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
    """The figures of the capture `packetshipper.interfaces.file`; a damaged file still gives the figures of
    every intact packet, with the damage named under `capture.loss.damaged`."""
    limits = limits or Limits()
    config = report_config(config)
    aggregator = ReportAggregator(limits)
    timeline = PacketTimeline(limits.max_keys)
    source = open_source(config, [])
    if not isinstance(source, FileSource):
        source.close()
        raise CaptureError("a report reads a capture file: give it with -I FILE")
    shipper = Shipper(config, publisher=aggregator, source=source)
    shipper.batch_taps.append(timeline.tap)
    damaged = None
    started = time.monotonic()
    try:
        shipper.run()
    except CaptureError as exc:
        damaged = str(exc)
    seconds = time.monotonic() - started
    figures = _figures(aggregator, timeline, shipper.metrics.snapshot(), limits)
    figures["capture"].update(file=config["packetshipper"]["interfaces"]["file"], read_seconds=round(seconds, 3),
                              link_type={"number": source.linktype, "name": linktype_name(source.linktype)})
    figures["capture"]["loss"]["damaged"] = damaged
    return figures


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _figures(agg: ReportAggregator, timeline: PacketTimeline, stats: dict[str, Any], limits: Limits) -> dict[str, Any]:
    capture = stats.get("capture", {})
    tcp = (stats.get("protocols") or {}).get("tcp", {})
    top = limits.top
    duration = (timeline.last - timeline.first) if timeline.first is not None and timeline.last is not None else 0.0
    services = sorted(agg.services.items(), key=lambda item: (-item[1].transactions, item[0]))
    return {
        "packets": capture.get("received", timeline.packets),
        "bytes": capture.get("bytes", timeline.bytes),
        "flows": agg.flows,
        "events": agg.events,
        "transactions": dict(sorted((k, v[0]) for k, v in agg.transactions.rows.items())),
        "errors": {k: agg.errors.rows.get(k, [0])[0] for k in sorted(agg.transactions.rows)},
        "capture": {
            "start": _iso(timeline.first),
            "end": _iso(timeline.last),
            "duration_seconds": round(duration, 6),
            "captured_bytes": timeline.bytes,
            "loss": {
                "malformed": capture.get("malformed_total", 0),
                "malformed_by_reason": capture.get("malformed", {}),
                "snaplen_truncated": capture.get("snaplen_truncated", 0),
                "fragments_pending": capture.get("fragments_pending", 0),
                "tcp_gaps": tcp.get("gaps", 0),
                "tcp_bytes_lost": tcp.get("bytes_lost", 0),
                "flows_refused": (stats.get("flows") or {}).get("refused", 0),
            },
        },
        "top_talkers": _talkers(agg, 0, top),
        "top_talkers_by_packets": _talkers(agg, 1, top),
        "top_talkers_by_flows": _talkers(agg, 2, top),
        "top_conversations": [{"a": a, "b": b, "bytes": row[0], "packets": row[1], "flows": row[2]}
                              for (a, b), row in _pairs(agg.conversations.top(top))],
        "transports": [{"transport": k, "bytes": r[0], "packets": r[1], "flows": r[2]}
                       for k, r in agg.transports.top(top)],
        "services": [{"service": name, "protocol": name.split(" ", 1)[0], "transactions": s.transactions,
                      "errors": s.errors, "error_rate": s.errors / s.transactions if s.transactions else 0.0,
                      "response_ms": _clean(s.latency.summary())} for name, s in services[:MAX_SERVICES]],
        "slowest": [row for _, _, row in sorted(agg.slowest, key=lambda e: (-e[0], e[1]))],
        "error_kinds": [{"kind": kind, "count": row[0], "example": agg.error_examples.get(kind)}
                        for kind, row in agg.error_kinds.top(top * 2)],
        "dns": {"top_names": _named(agg.dns_names, top), "top_answers": _named(agg.dns_answers, top)},
        "http": {"top_hosts": _named(agg.http_hosts, top), "top_urls": _named(agg.http_urls, top)},
        "tls": {"server_names": _named(agg.tls_names, top), "versions": _named(agg.tls_versions, top)},
        "tcp": {key: tcp.get(key, 0) for key in ("connections_total", "retransmissions", "out_of_order", "overlaps",
                                                 "gaps", "bytes_lost", "out_of_window", "connections_over_limit")},
        "timeline": _timeline(agg, timeline),
        "latency_histogram": _histogram(agg),
        "limits": {"max_keys": limits.max_keys, "max_samples": limits.max_samples, "top": top,
                   "dropped_keys": agg.dropped_keys() + timeline.seconds.dropped},
    }


def _pairs(rows: list[tuple[Any, list[int]]]) -> list[tuple[tuple[str, str], list[int]]]:
    return [(key if isinstance(key, tuple) else (str(key), ""), row) for key, row in rows]


def _talkers(agg: ReportAggregator, column: int, top: int) -> list[dict[str, Any]]:
    return [{"ip": ip, "bytes": row[0], "packets": row[1], "flows": row[2]} for ip, row in agg.talkers.top(top, column)]


def _named(counter: Any, top: int) -> list[dict[str, Any]]:
    return [{"name": key, "count": row[0]} for key, row in counter.top(top)]


def _clean(summary: dict[str, Any]) -> dict[str, Any]:
    """NaN (no samples) is not JSON: None instead; milliseconds to the microsecond."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else round(v, 3) if isinstance(v, float) else v)
            for k, v in summary.items()}


# Response-time bins: 1 microsecond to 100 seconds, four to a decade.
HISTOGRAM_EDGES_MS = [round(10 ** (k / 4), 6) for k in range(-12, 21)]


def _histogram(agg: ReportAggregator) -> dict[str, Any]:
    counts: dict[str, list[int]] = {}
    for name, service in agg.services.items():
        row = counts.setdefault(name.split(" ", 1)[0], [0] * (len(HISTOGRAM_EDGES_MS) + 1))
        for value in service.latency.values:
            row[bisect.bisect_right(HISTOGRAM_EDGES_MS, value)] += 1
    return {"edges_ms": HISTOGRAM_EDGES_MS, "counts": dict(sorted(counts.items()))}


def _timeline(agg: ReportAggregator, timeline: PacketTimeline) -> dict[str, Any]:
    per_second: dict[int, list[int]] = {}
    for sec, (packets, nbytes) in timeline.seconds.rows.items():
        if isinstance(sec, int):
            per_second[sec] = [packets, nbytes, 0]
    for stamp, (count,) in agg.per_second.rows.items():
        try:
            sec = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            continue
        per_second.setdefault(sec, [0, 0, 0])[2] += count
    if not per_second:
        return {"start": None, "bucket_seconds": 1, "packets": [], "bytes": [], "transactions": []}
    first, last = min(per_second), max(per_second)
    bucket = max(1, math.ceil((last - first + 1) / MAX_TIMELINE_POINTS))
    size = (last - first) // bucket + 1
    series = [[0] * size for _ in range(3)]
    for sec, row in per_second.items():
        for column in range(3):
            series[column][(sec - first) // bucket] += row[column]
    return {"start": first, "bucket_seconds": bucket, "packets": series[0], "bytes": series[1],
            "transactions": series[2]}
