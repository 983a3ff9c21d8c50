"""The periodic metrics log line: each counter that changed since the last line, with its total and
its change; nothing when nothing changed; totals at shutdown."""

from __future__ import annotations

import logging

import pytest
from packetshipper.metrics import Metrics
from packetshipper.monitoring import MetricsLogger, changed_metrics, flatten


def test_flatten_keeps_numbers_under_dotted_keys():
    tree = {"queue": {"events": 3, "type": "mem", "dropped": {"full": 0}}, "ok": True, "rtt": 0.5}
    assert flatten(tree) == {"queue.events": 3, "queue.dropped.full": 0, "rtt": 0.5}


def test_changed_metrics_lists_total_and_delta_of_what_changed():
    before = {"a.b": 5, "c": 1, "gone": 2}
    after = {"a.b": 8, "c": 1, "new": 4, "gone": 0}
    assert changed_metrics(before, after) == "a.b=8(+3) gone=0(-2) new=4(+4)"
    assert changed_metrics(after, after) == ""


def test_log_once_reports_changes_between_calls(caplog: pytest.LogCaptureFixture):
    metrics = Metrics()
    counters = {"received": 0}
    metrics.register("capture", lambda: {"packets": dict(counters)})
    logger = MetricsLogger(metrics.snapshot, period=30.0)
    with caplog.at_level(logging.INFO, logger="packetshipper.monitoring"):
        counters["received"] = 10
        assert logger.log_once() == "capture.packets.received=10(+10)"
        assert logger.log_once() == ""
        counters["received"] = 25
        logger.log_once()
    assert [r.getMessage() for r in caplog.records] == [
        "Non-zero metrics in the last 30s: capture.packets.received=10(+10)",
        "Non-zero metrics in the last 30s: capture.packets.received=25(+15)",
    ]


def test_stop_logs_the_totals(caplog: pytest.LogCaptureFixture):
    logger = MetricsLogger(lambda: {"output": {"events": {"acked": 7, "failed": 0}}}, period=3600)
    logger.start()
    with caplog.at_level(logging.INFO, logger="packetshipper.monitoring"):
        logger.stop()
    assert [r.getMessage() for r in caplog.records] == ["Total metrics: output.events.acked=7"]


def test_a_failing_section_is_logged_not_raised(caplog: pytest.LogCaptureFixture):
    def broken() -> dict[str, int]:
        raise RuntimeError("boom")

    logger = MetricsLogger(broken, period=30.0)
    with caplog.at_level(logging.ERROR, logger="packetshipper.monitoring"):
        assert logger.log_once() == ""
    assert "collecting metrics failed" in caplog.text
