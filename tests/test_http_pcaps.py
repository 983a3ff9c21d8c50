"""Packetbeat's HTTP capture files, with the values Packetbeat's own system and golden tests expect.

`events_from_pcap` validates every event against fields/ before it returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"


def http_config(ports: list[int] | None = None, **options: Any) -> dict[str, Any]:
    protocol: dict[str, Any] = {"type": "http", **options}
    if ports is not None:
        protocol["ports"] = ports
    return {"packetshipper": {"protocols": [protocol], "flows": {"enabled": False}}}


def http_events(pcap: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "http"]


def test_minitwit_three_transactions_with_packetbeats_byte_counts() -> None:
    # test_0003_http_simple.py (its config template sets the http ports to [80])
    events = http_events("http_minitwit.pcap", http_config([80]))
    assert [e["status"] for e in events] == ["OK", "OK", "Error"]
    assert [(e["client"]["bytes"], e["server"]["bytes"]) for e in events] == [(364, 1000), (471, 234), (289, 396)]
    assert all(e["client"]["ip"] == "192.168.1.104" and e["client"]["port"] == 54742 for e in events)
    assert all(e["server"]["ip"] == "192.168.1.110" and e["server"]["port"] == 80 for e in events)
    assert [e["http"]["response"]["status_code"] for e in events] == [200, 304, 404]


def test_unmatched_response_then_matched_transaction() -> None:
    # test_0065_unmatched_http.py: a 404 with no request, then a 200 with its request. The first
    # connection's request, answered by a reset, is reported too (Packetbeat leaves it to a timer).
    events = http_events("http_unmatched.pcap", http_config([8080]))
    answered = [e for e in events if "response" in e["http"]]
    assert [(e["status"], e["http"]["response"]["status_code"], e.get("error", {}).get("message"))
            for e in answered] == [("Error", 404, "Unmatched response"), ("OK", 200, None)]
    assert answered[1]["http"]["request"]["headers"] == {"content-length": 0}
    unanswered = [e for e in events if "response" not in e["http"]]
    assert [(e["status"], e["query"], e["error"]["message"]) for e in unanswered] == [
        ("Error", "GET /something", "Unmatched request")]


def test_gap_in_a_large_response_keeps_the_transaction_with_a_note() -> None:
    # test_0029_http_gap.py
    (event,) = http_events("gap_in_stream.pcap", http_config([8000]))
    assert event["status"] == "OK"
    assert event["error"]["message"] == "Packet loss while capturing the response"
    assert event["http"]["response"]["headers"]["content-length"] == 76985


def test_expect_100_continue_gives_one_event() -> None:
    # test_0070_http_100_continue.py
    (event,) = http_events("http_100_continue.pcap", http_config([9200], send_all_headers=True))
    assert event["http"]["request"]["headers"]["expect"] == "100-continue"
    assert event["http"]["response"]["status_code"] == 200
    assert "error" not in event


def test_http_1_0_close_delimited_response() -> None:
    # test_0010_http_10_connection_close.py
    (event,) = http_events("http_10_connection_close.pcap", http_config([8000]))
    assert event["status"] == "OK"
    assert event["http"]["response"]["headers"]["content-length"] == 11422
    assert event["http"]["response"]["status_code"] == 200
    assert (event["client"]["port"], event["server"]["port"]) == (37885, 8000)


@pytest.mark.parametrize("pcap", ["hide_secret_GET.pcap", "hide_secret_POST.pcap"])
def test_hide_keywords(pcap: str) -> None:
    # test_0019_hide_params.py: Packetbeat's `params` is url.query in its ECS events
    (event,) = http_events(pcap, http_config([80], hide_keywords=["pass", "password"]))
    assert event["url"]["query"] == "pass=xxxxx&user=monica"
    assert event["url"]["path"] == "/login"
    assert "secret" not in json.dumps(event)


def test_hide_keywords_off_by_default() -> None:
    (event,) = http_events("hide_secret_POST.pcap", http_config([80]))
    assert event["url"]["query"] == "pass=secret&user=monica"


def test_real_ip_header() -> None:
    # test_0008_realip.py: Packetbeat's `real_ip` is network.forwarded_ip in its ECS events
    (event,) = http_events("http_realip.pcap", http_config([8002], real_ip_header="X-Forward-For",
                                                           send_all_headers=True))
    assert event["network"]["forwarded_ip"] == "89.247.39.104"
    assert "89.247.39.104" in event["related"]["ip"]


# --- golden file (test_0099_golden_files.py) ------------------------------------------------------------
# Keys Packetbeat's golden test removes as host dependent, and the output's @metadata.
HOST_DEPENDENT = ("@metadata.", "agent.", "ecs.version", "event.end", "event.start", "host.name", "@timestamp",
                  "network.direction")
# Envelope fields this shipper adds beyond Packetbeat's golden output (core, not module, decisions).
ENVELOPE_ADDITIONS = ("event.outcome", "source.mac", "destination.mac", "client.mac", "server.mac")


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys for nested objects, lists left whole: Beats' flatten_object."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not name.endswith(".headers"):
            out.update(flatten(value, name + "."))
        elif isinstance(value, dict):  # the golden file flattens header maps too
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def clean(event: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not any(k == d or (d.endswith(".") and k.startswith(d)) for d in drop)}


def test_http_basic_auth_golden_file() -> None:
    cases = yaml.safe_load((PCAPS / "golden" / "golden-tests.yml").read_text())["test_cases"]
    (case,) = [c for c in cases if c["name"] == "HTTP Basic Auth"]
    options = {key.removeprefix("http_"): value for key, value in case["config"].items()}
    assert options == {"send_all_headers": True}
    pcap = Path(case["pcap"]).name
    expected = json.loads((PCAPS / "golden" / "http_basic_auth-expected.json").read_text())
    expected_http = [clean(e, HOST_DEPENDENT) for e in expected if e["type"] == "http"]

    events = http_events(pcap, http_config(None, **options))
    got = [clean(flatten(e), HOST_DEPENDENT + ENVELOPE_ADDITIONS) for e in events]
    assert len(got) == len(expected_http) == 1
    for want in expected_http:
        assert want in got, f"expected event not produced:\n{json.dumps(want, indent=1, sort_keys=True)}\n" \
                            f"got:\n{json.dumps(got, indent=1, sort_keys=True)}"


def test_packetbeat_0029_gap_in_large_file_is_ok_with_the_packet_loss_note() -> None:
    # Packetbeat's test_0029_http_gap: one event, status OK, notes == ["Packet loss while capturing the response"].
    events = http_events("gap_in_stream.pcap", http_config([8000]))
    assert len(events) == 1
    assert events[0]["status"] == "OK"
    assert events[0]["notes"] == ["Packet loss while capturing the response"]


def test_packetbeat_0063_large_body_is_trimmed_not_dropped() -> None:
    # Packetbeat's test_0063_http_body test_large_body: max_message_size 1024 on a 2,048-byte body whose
    # two Content-Type headers (octet-stream, binary) together match include_body_for: [binary].
    (event,) = http_events("http_get_2k_file.pcap", http_config([8000], include_body_for=["binary"],
                                                                 max_message_size=1024))
    assert 500 < len(event["http"]["response"]["body"]["content"]) < 2000
    assert any(note.startswith("Body trimmed to max_message_size") for note in event["notes"])
