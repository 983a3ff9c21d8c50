"""The `report` command: `packetshipper report -I capture.pcap [-o report.html] [--json report.json]`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..capture import CaptureError

__all__ = ["add_parser", "run"]

DEFAULT_HTML = "report.html"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    report = sub.add_parser("report", parents=[common], help="a readable report of a capture file: HTML and/or JSON")
    report.add_argument("-I", "--read", metavar="FILE", required=True, help="the pcap or pcapng file to report on")
    report.add_argument("-o", "--output", metavar="HTML", help=f"write the HTML page here (default: {DEFAULT_HTML} "
                        "unless only --json is given)")
    report.add_argument("--json", metavar="JSON", help="write the same figures as JSON here ('-': standard output)")


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CaptureError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    import json

    from .aggregate import Limits
    from .build import make_report
    from .render import ReportDependencyError, render_html

    html_path = args.output or (None if args.json else DEFAULT_HTML)
    settings = config["report"]
    figures = make_report(config, Limits(settings["max_keys"], settings["max_samples"], settings["top"]))
    if html_path is not None:
        try:
            page = render_html(figures)
        except ReportDependencyError as exc:
            print(f"packetshipper: {exc}", file=sys.stderr)
            return 1
        _write(html_path, page)
        if html_path != "-":
            print(f"report written to {html_path} ({os.path.getsize(html_path) / 1024:,.0f} KB)", file=sys.stderr)
    if args.json:
        _write(args.json, json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    damaged = figures["capture"]["loss"]["damaged"]
    if damaged:
        print(f"packetshipper: capture error: {damaged}", file=sys.stderr)
        return 1
    return 0
