"""The HTML report as a person sees it: opened in headless Chromium (Debian's package, driven through
chromedriver), with no console error, no request leaving the page, and the figures on it equal to those
this test computes from the shipper's events."""

from __future__ import annotations

import collections
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import generate_http_dns, write_pcap
from packetshipper.testing import run_pcap

SAMPLE = Path(__file__).resolve().parents[1] / "shipper" / "data" / "sample.pcap"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
MODULES = {"packetshipper": {"protocols": [{"type": "http"}, {"type": "dns"}, {"type": "icmp"}],
                             "flows": {"period": -1}}}

pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="Debian's chromium and chromium-driver are not installed")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,2000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _report(capture: Path, out: Path) -> Path:
    page = out / "report.html"
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "report", "-I", str(capture), "-o", str(page)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return page


def _open(browser: Any, page: Path) -> dict[str, tuple[str, str]]:
    from selenium.webdriver.common.by import By

    browser.get_log("browser"), browser.get_log("performance")  # start from empty logs
    url = page.as_uri()
    browser.get(url)
    severe = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not severe, severe
    requested = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.add(message["params"]["request"]["url"])
    assert requested <= {url}, f"the page asked for {sorted(requested - {url})}"
    figures = {}
    for element in browser.find_elements(By.CSS_SELECTOR, "[data-figure]"):
        figures[element.get_attribute("data-figure")] = (element.get_attribute("data-value"), element.text)
    assert browser.find_elements(By.CSS_SELECTOR, "svg"), "no chart was drawn"
    return figures


def _expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the page must show, computed here from the events alone."""
    flows = [e for e in events if e["type"] == "flow"]
    transactions = [e for e in events if e["type"] != "flow"]
    per_host: collections.Counter[str] = collections.Counter()
    for flow in flows:
        total = flow["source"].get("bytes", 0) + flow["destination"].get("bytes", 0)
        per_host[flow["source"]["ip"]] += total
        if flow["destination"]["ip"] != flow["source"]["ip"]:
            per_host[flow["destination"]["ip"]] += total
    durations: dict[str, list[float]] = collections.defaultdict(list)
    for event in transactions:
        server = event["server"]
        where = f"{server['ip']}:{server['port']}" if "port" in server else server["ip"]
        durations[f"{event['type']} {where}"].append(event["event"]["duration"] / 1e6)
    busiest = max(durations, key=lambda name: (len(durations[name]), name))
    ordered = sorted(durations[busiest])
    return {
        "flows": len(flows),
        "transactions": collections.Counter(e["type"] for e in transactions),
        "top_talker": max(per_host, key=lambda ip: (per_host[ip], ip)),
        "service": busiest,
        "p50": ordered[math.ceil(0.5 * len(ordered)) - 1],
        "p99": ordered[math.ceil(0.99 * len(ordered)) - 1],
    }


def _check(figures: dict[str, tuple[str, str]], expected: dict[str, Any]) -> None:
    assert int(figures["flows"][0]) == expected["flows"]
    assert figures["flows"][1] == f"{expected['flows']:,}"  # what a person reads
    for kind, count in expected["transactions"].items():
        assert int(figures[f"transactions.{kind}"][0]) == count
    assert figures["top_talker"][0] == expected["top_talker"]
    service = f"service.{expected['service']}"
    assert float(figures[f"{service}.p50"][0]) == pytest.approx(expected["p50"], abs=1e-3)
    assert float(figures[f"{service}.p99"][0]) == pytest.approx(expected["p99"], abs=1e-3)
    assert figures[f"{service}.p99"][1] == f"{expected['p99']:,.3f}"


def test_the_sample_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    figures = _open(browser, _report(SAMPLE, tmp_path))
    _check(figures, _expected(run_pcap(str(SAMPLE), MODULES).events))


@pytest.mark.slow
def test_the_report_of_a_500000_packet_capture_in_chromium(browser: Any, tmp_path: Path) -> None:
    capture = tmp_path / "http-dns-500k.pcap"
    write_pcap(str(capture), generate_http_dns(500_000))
    page = _report(capture, tmp_path)
    assert page.stat().st_size < 5 * 1024 * 1024
    figures = _open(browser, page)
    _check(figures, _expected(run_pcap(str(capture), MODULES, check_schema=False).events))
