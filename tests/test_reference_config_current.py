"""packetshipper.reference.yml is generated from the settings specs; it must match what they say now."""

from __future__ import annotations

from pathlib import Path

from packetshipper.reference_config import render_reference

ROOT = Path(__file__).parent.parent


def test_the_committed_reference_config_is_current() -> None:
    committed = (ROOT / "packetshipper.reference.yml").read_text()
    assert committed == render_reference(), (
        "regenerate with: python -m packetshipper.reference_config > packetshipper.reference.yml")


def test_the_reference_config_documents_every_flow_and_interface_key() -> None:
    text = (ROOT / "packetshipper.reference.yml").read_text()
    for key in ("#timeout: 30.0", "#period: 10.0", "#enable_delta_flow_reporting: false", "#max_flows: 262144",
                "#snaplen: 65535", "#bpf_filter:", "- type: http", "- type: dns", "- type: icmp",
                "output.console:", "#output.elasticsearch:", "#output.logstash:", "#output.redis:"):
        assert key in text, key
