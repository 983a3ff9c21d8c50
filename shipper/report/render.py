"""The report as one self-contained HTML page: inline styles, charts as inline SVG drawn by matplotlib.

Nothing on the page is fetched: no scripts, fonts, styles or images from anywhere. The key figures
carry a `data-figure` attribute (their exact value in `data-value`), so a test or a script reading the
page finds them without parsing prose.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["render_html", "ReportDependencyError"]


class ReportDependencyError(Exception):
    """The report's optional dependencies are not installed."""


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#1d2330;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
h3{font-size:1em;margin:1em 0 .3em}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #d5d9e0;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:1.35em}.card span{color:#5b6475;font-size:.85em}
table{border-collapse:collapse;font-size:.88em;margin:.3em 0 1em}
th,td{border-bottom:1px solid #e6e9ee;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f3f5f8}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:0 28px}
.muted{color:#5b6475}.warn{color:#a4370b}code{font-size:.95em;word-break:break-all}
svg{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def _figure(name: str, value: Any, text: str | None = None) -> str:
    shown = text if text is not None else _num(value)
    return f'<span data-figure="{_e(name)}" data-value="{_e(value)}">{_e(shown)}</span>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    head = "".join(f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    if not body:
        return '<p class="muted">none seen</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.3f}"


# --- charts ------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportDependencyError("the HTML report needs matplotlib: pip install 'packetshipper[report]' "
                                    "(or use --json alone)") from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False, "svg.hashsalt": "packetshipper"})
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]  # the XML prolog and DOCTYPE are not allowed inside HTML


def _timeline_chart(plt: Any, timeline: dict[str, Any]) -> str:
    if not timeline["packets"]:
        return ""
    step = timeline["bucket_seconds"]
    xs = [i * step for i in range(len(timeline["packets"]))]
    fig, axes = plt.subplots(3, 1, figsize=(10, 4.6), sharex=True)
    for ax, key, label in zip(axes, ("packets", "bytes", "transactions"),
                              ("packets/s", "bytes/s", "transactions/s"), strict=True):
        ax.fill_between(xs, [v / step for v in timeline[key]], step="post", alpha=0.35, color="#2a6fdb")
        ax.step(xs, [v / step for v in timeline[key]], where="post", color="#2a6fdb", linewidth=0.9)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xlabel("seconds since the first packet")
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _bar_chart(plt: Any, labels: list[str], values: list[float], xlabel: str) -> str:
    if not values:
        return ""
    fig, ax = plt.subplots(figsize=(5.2, 0.28 * len(values) + 0.7))
    positions = list(range(len(values)))[::-1]
    ax.barh(positions, values, color="#2a6fdb")
    ax.set_yticks(positions, [label if len(label) <= 40 else label[:37] + "..." for label in labels])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _latency_chart(plt: Any, histogram: dict[str, Any]) -> str:
    counts = {name: row for name, row in histogram["counts"].items() if any(row)}
    if not counts:
        return ""
    edges = histogram["edges_ms"]
    fig, ax = plt.subplots(figsize=(10, 2.8))
    lefts = [edges[0] / 10 ** 0.25, *edges]
    for name, row in counts.items():
        ax.step(lefts, row, where="post", label=name, linewidth=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("response time (ms)")
    ax.set_ylabel("transactions")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    svg = _svg(fig)
    plt.close(fig)
    return svg


# --- the page ----------------------------------------------------------------------------------------


def _card(label: str, inner: str) -> str:
    return f'<div class="card"><b>{inner}</b><span>{_e(label)}</span></div>'


def _row_link(row: dict[str, Any] | None) -> list[str]:
    if not row:
        return ["-", "-", "-", "-"]
    return [_e(row.get("service")), f"<code>{_e(row.get('what'))}</code>", _e(row.get("client")),
            f"<code>{_e(row.get('community_id'))}</code>"]


def render_html(figures: dict[str, Any]) -> str:
    plt = _pyplot()
    capture, loss = figures["capture"], figures["capture"]["loss"]
    parts: list[str] = []
    add = parts.append
    title = f"packetshipper report: {capture.get('file') or 'capture'}"
    add(f"<h1>{_e(title)}</h1>")
    add(f'<p class="muted">{_e(capture.get("start"))} to {_e(capture.get("end"))} '
        f'({capture["duration_seconds"]:,.3f} s), link type {_e(capture["link_type"]["name"])} '
        f'({_e(capture["link_type"]["number"])}), read in {capture.get("read_seconds", 0):,.2f} s</p>')
    if loss.get("damaged"):
        add(f'<p class="warn">The capture is damaged: {_e(loss["damaged"])}. The figures cover every packet '
            "before the damage.</p>")
    cards = [
        _card("packets", _figure("packets", figures["packets"])),
        _card("bytes", _figure("bytes", figures["bytes"], _bytes(figures["bytes"]))),
        _card("flows", _figure("flows", figures["flows"])),
        _card("transactions", _figure("transactions_total", sum(figures["transactions"].values()))),
        _card("errors", _figure("errors_total", sum(figures["errors"].values()))),
    ]
    cards += [_card(f"{name} transactions", _figure(f"transactions.{name}", count))
              for name, count in figures["transactions"].items()]
    add('<div class="cards">' + "".join(cards) + "</div>")
    ledger = [("malformed frames", loss["malformed"]), ("cut by the snap length", loss["snaplen_truncated"]),
              ("IP fragments never completed", loss["fragments_pending"]), ("TCP gaps", loss["tcp_gaps"]),
              ("TCP bytes lost in gaps", loss["tcp_bytes_lost"]), ("flows refused (table full)", loss["flows_refused"])]
    add("<h2>Loss ledger</h2>")
    add(_table(["what", "count"], [[_e(k), _figure(f"loss.{k}", v)] for k, v in ledger], numeric=[1]))
    if loss["malformed_by_reason"]:
        add(_table(["malformed, by reason", "frames"],
                   [[_e(k), _num(v)] for k, v in sorted(loss["malformed_by_reason"].items())], numeric=[1]))

    add("<h2>Timeline</h2>")
    add(_timeline_chart(plt, figures["timeline"]))

    add("<h2>Top talkers</h2>")
    talkers = figures["top_talkers"]
    if talkers:
        add(f'<p>Top talker by bytes: {_figure("top_talker", talkers[0]["ip"], talkers[0]["ip"])} '
            f'({_bytes(talkers[0]["bytes"])} in {talkers[0]["flows"]:,} flows)</p>')
    add('<div class="grid"><div>')
    add(_bar_chart(plt, [t["ip"] for t in talkers], [t["bytes"] for t in talkers], "bytes"))
    add("</div><div>")
    add(_table(["host", "bytes", "packets", "flows"],
               [[_e(t["ip"]), _num(t["bytes"]), _num(t["packets"]), _num(t["flows"])] for t in talkers], [1, 2, 3]))
    add("</div></div>")
    add('<div class="grid"><div><h3>By packets</h3>')
    add(_table(["host", "packets"], [[_e(t["ip"]), _num(t["packets"])] for t in figures["top_talkers_by_packets"]], [1]))
    add("</div><div><h3>By flows</h3>")
    add(_table(["host", "flows"], [[_e(t["ip"]), _num(t["flows"])] for t in figures["top_talkers_by_flows"]], [1]))
    add("</div></div><h3>Top conversations</h3>")
    add(_table(["between", "and", "bytes", "packets", "flows"],
               [[_e(c["a"]), _e(c["b"]), _num(c["bytes"]), _num(c["packets"]), _num(c["flows"])]
                for c in figures["top_conversations"]], [2, 3, 4]))
    add(_table(["transport", "bytes", "packets", "flows"],
               [[_e(t["transport"]), _num(t["bytes"]), _num(t["packets"]), _num(t["flows"])]
                for t in figures["transports"]], [1, 2, 3]))

    add("<h2>Protocols and services</h2>")
    rows = []
    for s in figures["services"]:
        r, key = s["response_ms"], f"service.{s['service']}"
        rows.append([_e(s["service"]), _num(s["transactions"]), _num(s["errors"]), f"{s['error_rate']:.1%}",
                     _figure(f"{key}.p50", r["p50"], _ms(r["p50"])), _ms(r["p90"]),
                     _figure(f"{key}.p99", r["p99"], _ms(r["p99"])), _ms(r["max"])])
    add(_table(["service", "transactions", "errors", "error rate", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows,
               range(1, 8)))
    add(_latency_chart(plt, figures["latency_histogram"]))

    add("<h2>Slowest transactions</h2>")
    add(_table(["ms", "service", "what", "client", "community ID"],
               [[_ms(row["duration_ms"]), *_row_link(row)] for row in figures["slowest"]], [0]))
    add("<h2>Errors by kind</h2>")
    add(_table(["kind", "count", "example service", "example", "client", "community ID"],
               [[_e(k["kind"]), _num(k["count"]), *_row_link(k["example"])] for k in figures["error_kinds"]], [1]))

    add('<h2>Application details</h2><div class="grid">')
    details = [("DNS: top names", figures["dns"]["top_names"]), ("DNS: top answers", figures["dns"]["top_answers"]),
               ("HTTP: top hosts", figures["http"]["top_hosts"]), ("HTTP: top URLs", figures["http"]["top_urls"]),
               ("TLS: server names", figures["tls"]["server_names"]), ("TLS: versions", figures["tls"]["versions"])]
    for heading, items in details:
        add(f"<div><h3>{_e(heading)}</h3>")
        add(_table(["name", "count"], [[f"<code>{_e(i['name'])}</code>", _num(i["count"])] for i in items], [1]))
        add("</div>")
    add("</div><h2>TCP health</h2>")
    add(_table(["what", "count"], [[_e(k.replace("_", " ")), _num(v)] for k, v in figures["tcp"].items()], [1]))
    limits = figures["limits"]
    note = (f'<p class="warn">{limits["dropped_keys"]:,} keys did not fit the tables (at most {limits["max_keys"]:,} '
            "each) and are counted under (other).</p>") if limits["dropped_keys"] else ""
    add(note + f'<p class="muted">Made by packetshipper from {figures["events"]:,} events. Response-time '
        f"percentiles are nearest-rank over every transaction (a uniform sample of {limits['max_samples']:,} per "
        "service beyond that).</p>")
    body = "\n".join(part for part in parts if part)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{_minify(_STYLE)}</style></head><body>\n{body}\n</body></html>\n")


def _minify(css: str) -> str:
    return re.sub(r"\s*\n\s*", "", css)
