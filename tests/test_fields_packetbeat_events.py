"""Packetbeat's own events against our schemas: they validate except where we knowingly differ.

Sources: tests/pcaps/packetbeat/sample_outputs/*.json (Packetbeat 7.0 documentation samples) and
tests/pcaps/packetbeat/golden/*-expected.json (Packetbeat 8 events, flattened, from its golden tests).
Each difference is listed below with the reason; a difference that goes away must be removed here
(the comparison is exact), and a new one fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packetshipper.fields import event_types, validate_event
from packetshipper.fields.registry import _entry_point_fields

DATA = Path(__file__).parent / "pcaps" / "packetbeat"

# Fields of Packetbeat 7.0 that Packetbeat 8 (and we) no longer write, or that we do not implement.
PACKETBEAT_7_ONLY = {
    "agent.hostname",  # 7.x duplicate of the host name; 8.x has agent.name (and host.hostname)
    "bytes_in",  # 7.0 pre-ECS names; now source.bytes / destination.bytes (Packetbeat keeps aliases)
    "bytes_out",
    "responsetime",  # 7.0 milliseconds; now event.duration in nanoseconds
    "transport",  # 7.0 pre-ECS name; now network.transport
    "http.response.code",  # 7.0 names; now http.response.status_code / status_phrase (ECS)
    "http.response.phrase",
    "http.request.params",  # 7.0 only; Packetbeat 8 keeps query parameters in url.query
    "process.exe",  # 7.0 name; Packetbeat 8 (and packetshipper.procs) write process.executable, as ECS
    "source.process.exe",
}
# packetshipper.procs names each side's process source.process / destination.process (ECS), not client.
NO_PROCESS_ENRICHMENT = {"client.process"}
ECS_1_VALUES = {
    "network.direction",  # 7.0 wrote "outgoing"; ECS 1.x+ allows only ingress/egress/inbound/outbound/...
    "event.type",  # 7.0 flow wrote the string "flow"; ECS requires a list (Packetbeat 8: ["connection"])
}

SAMPLE_DIFFERENCES = {
    "flow": {"agent.hostname", "event.type", "process.exe", "source.process.exe"},
    "dns": {"agent.hostname", "bytes_in", "bytes_out", "responsetime", "transport", "network.direction"},
    "http": {"agent.hostname", "bytes_in", "bytes_out", "responsetime", "network.direction", "client.process",
             "http.response.code", "http.response.phrase", "http.request.params"},
}
# The golden files drop @timestamp (it varies per run); otherwise Packetbeat 8 events match exactly.
GOLDEN_DIFFERENCES = {"dns": {"@timestamp"}, "http": {"@timestamp"}}
SAMPLE_ICMP_NOTE = "Packetbeat ships no icmp sample output; icmp events are covered by the icmp module's tests."


def paths(violations: list[str]) -> set[str]:
    return {v.split(": ", 1)[0] for v in violations}


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


def require_schema(event_type: str) -> None:
    if event_type not in event_types():
        pytest.skip(f"modules/{event_type}/fields.yml is not there yet")


def test_allow_lists_only_name_documented_differences() -> None:
    documented = PACKETBEAT_7_ONLY | NO_PROCESS_ENRICHMENT | ECS_1_VALUES
    for differences in SAMPLE_DIFFERENCES.values():
        assert differences <= documented


def test_packetbeat_has_no_icmp_sample_output() -> None:
    assert not (DATA / "sample_outputs" / "icmp.json").exists(), SAMPLE_ICMP_NOTE


@pytest.mark.parametrize("event_type", sorted(SAMPLE_DIFFERENCES))
def test_packetbeat_sample_output_differs_only_where_documented(event_type: str) -> None:
    require_schema(event_type)
    sample = json.loads((DATA / "sample_outputs" / f"{event_type}.json").read_text())
    if event_type == "flow":
        # The 7.0 flow sample lacks `type`; Packetbeat 8 flows (worker.go) and ours carry "flow".
        assert "type" not in sample
        sample["type"] = "flow"
    assert paths(validate_event(sample)) == SAMPLE_DIFFERENCES[event_type]


def golden_events() -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for path in sorted((DATA / "golden").glob("*-expected.json")):
        for index, event in enumerate(json.loads(path.read_text())):
            if event.get("type") in GOLDEN_DIFFERENCES:
                out.append((path.name, index, event))
    return out


@pytest.mark.parametrize("name,index,event", golden_events(), ids=lambda v: str(v) if not isinstance(v, dict) else "")
def test_packetbeat_8_golden_event_differs_only_where_documented(name: str, index: int, event: dict[str, Any]) -> None:
    require_schema(event["type"])
    assert paths(validate_event(unflatten(event))) == GOLDEN_DIFFERENCES[event["type"]]


def test_golden_files_hold_dns_and_http_events() -> None:
    assert sorted(e["type"] for _, _, e in golden_events()) == ["dns", "http"]


def test_third_party_module_fields_are_found_next_to_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    example = Path(__file__).parent / "plugin_example"
    monkeypatch.syspath_prepend(str(example))
    entry_point = EntryPoint(name="lineproto", value="lineproto:LineModule", group="packetshipper.modules")
    found = _entry_point_fields(entry_point)
    assert found is not None and Path(str(found)) == example / "lineproto" / "fields.yml"
    missing = EntryPoint(name="nothing", value="no_such_package_here:Module", group="packetshipper.modules")
    assert _entry_point_fields(missing) is None
