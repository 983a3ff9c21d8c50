"""Packetbeat's golden-file comparison (packetbeat/tests/system/test_0099_golden_files.py), shared.

Packetbeat flattens each event, removes its host-dependent keys (`clean_keys`) and looks for every
expected event among the produced ones: the same number of events, order ignored, each equal as a
dict. The cases and their options come from golden/golden-tests.yml, named as test_0099 names them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
GOLDEN = PCAPS / "golden"

# test_0099_golden_files.py's clean_keys, and the output's @metadata.
HOST_DEPENDENT = ("@metadata.", "agent.", "ecs.version", "event.end", "event.start", "host.name", "@timestamp",
                  "network.direction")

__all__ = ["PCAPS", "GOLDEN", "HOST_DEPENDENT", "flatten", "clean", "golden_cases", "expected_events",
           "assert_matches"]


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Beats' flatten_object: dotted keys, lists kept whole."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def clean(event: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    """`event` without the keys in `drop` (an entry ending in "." drops the whole prefix)."""
    return {k: v for k, v in event.items() if not any(k == d or (d.endswith(".") and k.startswith(d)) for d in drop)}


def golden_cases(contains: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(test_0099's name, pcap file name, template options) of every case whose name has `contains`."""
    cases = yaml.safe_load((GOLDEN / "golden-tests.yml").read_text())["test_cases"]
    out = []
    for case in cases:
        if contains not in case["name"]:
            continue
        name = "".join("_" if c in " -." else c for c in case["name"]).lower()  # as test_0099 does
        out.append((name, Path(case["pcap"]).name, dict(case["config"])))
    return out


def expected_events(name: str) -> list[dict[str, Any]]:
    """The golden file of case `name`, cleaned as test_0099 cleans it."""
    return [clean(e, HOST_DEPENDENT) for e in json.loads((GOLDEN / f"{name}-expected.json").read_text())]


def assert_matches(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    """test_0099's loop: same number of events, each expected one equal to some produced one."""
    assert len(expected) == len(got), f"expected {len(expected)} events, got {len(got)}"
    for want in expected:
        assert want in got, (f"expected event not produced:\n{json.dumps(want, indent=1, sort_keys=True)}\n"
                             f"got:\n{json.dumps(got, indent=1, sort_keys=True)}")
