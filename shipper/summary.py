"""The few lines a person reads at the end of a file run or `demo`: what was seen, and what was lost where.

Built from the metrics snapshot alone, so it costs nothing while packets flow; the full metrics stay in
the log.
"""

from __future__ import annotations

from typing import Any

__all__ = ["human_summary"]


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _losses(stats: dict[str, Any]) -> list[str]:
    """Every non-zero drop or damage counter, named by where it happened."""
    capture, flows = stats.get("capture") or {}, stats.get("flows") or {}
    protocols, queue = stats.get("protocols") or {}, stats.get("queue") or {}
    output = stats.get("output") or {}
    tcp = protocols.get("tcp") or {}
    found = [
        ("capture: damaged records (reading stopped there)", capture.get("damaged_records")),
        ("capture: malformed frames", capture.get("malformed_total")),
        ("capture: frames cut by the snap length", capture.get("snaplen_truncated")),
        ("capture: kernel dropped", capture.get("kernel_dropped")),
        ("IP fragments never completed", capture.get("fragments_pending")),
        ("flows: refused (table full)", flows.get("refused")),
        ("tcp: gaps in streams", tcp.get("gaps")),
        ("tcp: connections over the limit", tcp.get("connections_over_limit")),
    ]
    for name, module in sorted((protocols.get("modules") or {}).items()):
        found += [(f"{name}: unmatched messages", module.get("unmatched")),
                  (f"{name}: protocol errors", module.get("protocol_errors"))]
    for reason, count in sorted((queue.get("dropped") or {}).items()):
        found.append((f"queue: events dropped ({reason})", count))
    events = output.get("events") or {}
    found += [("output: events given up on", events.get("given_up")), ("output: events rejected", events.get("rejected"))]
    return [f"{name} {_n(count)}" for name, count in found if isinstance(count, int) and count > 0]


def human_summary(stats: dict[str, Any], seconds: float) -> str:
    capture, flows = stats.get("capture") or {}, stats.get("flows") or {}
    modules = (stats.get("protocols") or {}).get("modules") or {}
    lines = [f"{_n(capture.get('received', 0))} packets ({_n(capture.get('bytes', 0))} bytes) in {seconds:.2f} s; "
             f"{_n(capture.get('events', 0))} events"]
    if flows:
        lines.append(f"flows: {_n(flows.get('created', 0))} seen, {_n(flows.get('reports', 0))} flow events")
    if modules:
        parts = []
        for name, module in sorted(modules.items()):
            if not module.get("transactions"):
                continue
            errors = module.get("errors", 0)
            parts.append(f"{name} {_n(module.get('transactions', 0))}" + (f" ({_n(errors)} errors)" if errors else ""))
        lines.append("transactions: " + (", ".join(parts) or "none"))
    losses = _losses(stats)
    lines.append("lost or damaged: " + ("; ".join(losses) if losses else "nothing"))
    return "\n".join(f"  {line}" for line in lines)
