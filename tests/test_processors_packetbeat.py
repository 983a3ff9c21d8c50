"""Packetbeat's own system tests that use processors, reproduced on the captures they use.

test_0060_processors.py and test_0060_filtering.py (packetbeat/tests/system in elastic/beats) run
http_minitwit.pcap with HTTP on port 80 (three transactions: 200, 304 and 404) and one processor each;
their old field names map onto today's: `http.code` is `http.response.status_code`, `http.request_headers`
and `http.response_headers` are `http.request.headers` and `http.response.headers`, `condition` is `when`.
test_0060_flows.py's check_community_id drops every event but flows with `not.equals.type: flow`.
Every event is checked against fields/ by run_pcap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from packetshipper.testing import run_pcap

DATA = Path(__file__).parent / "pcaps" / "packetbeat"


def _run(processors: str, *, headers: bool = False, bodies: bool = False) -> tuple[list[dict[str, Any]], dict]:
    http: dict[str, Any] = {"type": "http", "ports": [80], "send_all_headers": headers,
                            "send_request": bodies, "send_response": bodies}
    config = {"packetshipper": {"flows": {"enabled": False}, "protocols": [http]},
              "processors": yaml.safe_load(processors)}
    run = run_pcap(str(DATA / "http_minitwit.pcap"), config)
    events = sorted(run.events, key=lambda e: e["@timestamp"])
    return events, run.stats.get("processors", {})


def _has(event: dict[str, Any], name: str) -> bool:
    node: Any = event
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_without_processors_three_transactions_with_headers() -> None:
    events, stats = _run("[]", headers=True)
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]
    assert [e["http"]["response"]["status_code"] for e in events] == [200, 304, 404]
    assert all(_has(e, "http.request.headers") and _has(e, "http.response.headers") for e in events)
    assert stats == {}  # no processors: no processors section, nothing on the event path


def test_drop_map_fields() -> None:
    events, _ = _run("[{drop_fields: {fields: [http.request.headers]}}]", headers=True)
    assert len(events) == 3 and all(e["type"] == "http" for e in events)
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]
    assert not _has(events[0], "http.request.headers")
    assert _has(events[0], "http.response.headers")


def test_drop_fields_with_cond() -> None:
    events, _ = _run("""
        - drop_fields:
            fields: [http.request.headers, http.response.headers]
            when.equals.http.response.status_code: 200
    """, headers=True)
    assert len(events) == 3
    assert not _has(events[0], "http.request.headers") and not _has(events[0], "http.response.headers")
    assert "status" in events[0] and _has(events[0], "http.response.status_code")
    for event in events[1:]:  # the 304 and the 404
        assert _has(event, "http.request.headers") and _has(event, "http.response.headers")


def test_include_fields_with_cond() -> None:
    events, _ = _run("""
        - include_fields:
            fields: [http]
            when.equals.http.response.status_code: 200
    """, headers=True, bodies=True)
    assert len(events) == 3 and all(e["type"] == "http" for e in events)
    first = events[0]
    assert sorted(first) == ["@timestamp", "http", "type"]
    assert _has(first, "http.request.headers")  # http is kept whole
    assert "request" not in first and "response" not in first
    assert first["http"]["response"]["status_code"] == 200
    for event in events[1:]:
        assert "request" in event and "response" in event


def test_drop_fields_with_cond_range() -> None:
    events, _ = _run("""
        - drop_fields:
            fields: [request, response]
            when.range.http.response.status_code.lt: 300
    """, bodies=True)
    assert len(events) == 3
    assert "request" not in events[0] and "response" not in events[0]
    assert "status" in events[0] and _has(events[0], "http.response.status_code")
    for event in events[1:]:
        assert "request" in event and "response" in event


def test_drop_event_with_cond() -> None:
    events, stats = _run("[{drop_event: {when: {range: {http.response.status_code.lt: 300}}}}]")
    assert len(events) == 2
    assert all(e["http"]["response"]["status_code"] > 300 for e in events)
    assert stats["dropped"] == 1


def test_drop_end_fields() -> None:
    events, stats = _run("[{drop_fields: {fields: [http.response.headers.transfer-encoding]}}]", headers=True)
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]
    assert _has(events[0], "http.request.headers") and _has(events[0], "http.response.headers")
    assert "transfer-encoding" not in events[0]["http"]["response"]["headers"]
    assert "content-length" in events[0]["http"]["response"]["headers"]
    # The 304 has no transfer-encoding (its headers: content-length, server, date, connection,
    # cache-control, expires, etag): that one event says so.
    assert stats["errors"] == 1 and "error" in events[1] and "error" not in events[0]


def test_drop_unknown_field_keeps_the_event_and_says_why() -> None:
    events, stats = _run("[{drop_fields: {fields: [http.response.headers.transfer-encoding-test]}}]", headers=True)
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]
    assert "transfer-encoding" in events[0]["http"]["response"]["headers"]
    # Not silent: counted, and named in error.message.
    assert stats["errors"] == 3 and stats["failed"] == {"drop_fields": 3}
    why = "drop_fields: failed to drop field(s) [http.response.headers.transfer-encoding-test]: not found"
    assert [e["error"]["message"] for e in events] == [why, why, why]


def test_drop_unknown_field_with_ignore_missing_is_no_error() -> None:
    events, stats = _run("[{drop_fields: {fields: [nope], ignore_missing: true}}]", headers=True)
    assert len(events) == 3 and stats["errors"] == 0 and "error" not in events[0]


def test_drop_event_status_ok() -> None:
    events, stats = _run("[{drop_event: {when: {equals: {status: OK}}}}]", headers=True)
    assert len(events) == 1 and events[0]["status"] == "Error"
    assert stats["dropped"] == 2


def test_include_empty_list() -> None:
    events, _ = _run("[{include_fields: {fields: []}}]", headers=True)
    assert len(events) == 3
    assert all(sorted(e) == ["@timestamp", "type"] for e in events)


def test_drop_no_fields() -> None:
    events, _ = _run("[{drop_fields: {fields: []}}]", headers=True)
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]


def test_drop_and_include_fields_failed_cond() -> None:
    events, _ = _run("""
        - include_fields: {fields: [http]}
        - drop_fields:
            fields: [http.request.headers, http.response.headers]
            when.equals.status: OK
    """, headers=True)
    # include_fields ran first and took `status` away, so the condition never holds.
    assert len(events) == 3
    assert all(_has(e, "http.request.headers") and _has(e, "http.response.headers") for e in events)


def test_drop_and_include_fields() -> None:
    events, _ = _run("""
        - include_fields: {fields: [http]}
        - drop_fields:
            fields: [http.request.headers, http.response.headers]
            when.equals.http.response.status_code: 200
    """, headers=True)
    assert len(events) == 3
    assert not _has(events[0], "http.request.headers") and not _has(events[0], "http.response.headers")
    assert _has(events[1], "http.request.headers") and _has(events[1], "http.response.headers")


# test_0060_flows.py: test_community_id_ipv4_tcp and test_community_id_ipv4_udp (their expected IDs).
@pytest.mark.parametrize(("name", "expected"), [("tcp.pcap", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
                                                ("udp.pcap", "1:d/FP5EW3wiY1vCndhwleRRKHowQ=")])
def test_check_community_id_keeps_only_flows(name: str, expected: str) -> None:
    config = {"packetshipper": {"flows": {"enabled": True}, "protocols": [{"type": "http"}, {"type": "dns"}]},
              "processors": yaml.safe_load("[{drop_event: {when.not.equals.type: flow}}]")}
    events = run_pcap(str(DATA / "communityid" / name), config).events
    assert events and {e["type"] for e in events} == {"flow"}
    assert {e["network"]["community_id"] for e in events} == {expected}


def test_drop_event_not_flow_drops_the_transactions_and_counts_them() -> None:
    # The same rule on a capture with transactions: the three HTTP events go, the flows stay.
    config = {"packetshipper": {"flows": {"enabled": True}, "protocols": [{"type": "http", "ports": [80]}]},
              "processors": [{"drop_event": {"when": {"not": {"equals": {"type": "flow"}}}}}]}
    run = run_pcap(str(DATA / "http_minitwit.pcap"), config)
    assert run.events and {e["type"] for e in run.events} == {"flow"}
    assert run.stats["processors"]["dropped"] == 3
