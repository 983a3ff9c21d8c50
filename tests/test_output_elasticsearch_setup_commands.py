"""`setup --index-management`, `export template` and `test output` against the in-test Elasticsearch."""

from __future__ import annotations

from typing import Any

import pytest
from packetshipper import setup_commands  # not `import test_output`: pytest would collect it as a test
from packetshipper.config import validate_config
from packetshipper.outputs.base import OutputError
from packetshipper.settings import ConfigError
from packetshipper.setup_commands import export_template, setup_index_management
from packetshipper.version import __version__
from servers.es_server import EsServer
from servers.lumberjack_server import LumberjackServer
from servers.redis_server import free_port


def config(output: dict[str, Any], setup: dict[str, Any] | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"output": output}
    if setup is not None:
        raw["setup"] = setup
    return validate_config(raw)


def test_exported_template_is_a_data_stream_template_for_this_version() -> None:
    template = export_template(config({"elasticsearch": {}}))
    assert template["index_patterns"] == [f"packetshipper-{__version__}"]
    assert template["data_stream"] == {}
    assert template["template"]["settings"]["index"]["lifecycle"] == {"name": "packetshipper"}
    properties = template["template"]["mappings"]["properties"]
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["source"]["properties"]["ip"] == {"type": "ip"}


def test_setup_installs_policy_and_template_then_leaves_them_unless_overwrite() -> None:
    with EsServer() as es:
        cfg = config({"elasticsearch": {"hosts": [es.url]}})
        first = setup_index_management(cfg)
        es.templates[f"packetshipper-{__version__}"]["priority"] = 1
        second = setup_index_management(cfg)
        kept = es.templates[f"packetshipper-{__version__}"]["priority"]
        third = setup_index_management(config({"elasticsearch": {"hosts": [es.url]}},
                                              {"template": {"overwrite": True}}))
        replaced = es.templates[f"packetshipper-{__version__}"]["priority"]
        assert "max_primary_shard_size" in str(es.ilm_policies["packetshipper"])
    assert f"Index template packetshipper-{__version__}: loaded" in first
    assert "exists, left as is" in second and kept == 1
    assert f"Index template packetshipper-{__version__}: loaded" in third and replaced == 150


def test_events_shipped_after_setup_land_in_the_data_stream() -> None:
    from packetshipper.outputs.elasticsearch import ElasticsearchOutput
    from packetshipper.settings import validate

    with EsServer() as es:
        setup_index_management(config({"elasticsearch": {"hosts": [es.url]}}))
        output = ElasticsearchOutput(validate(ElasticsearchOutput.settings, {"hosts": [es.url]}))
        event = {"@timestamp": "2024-01-01T00:00:00.000Z", "agent": {"version": __version__}}
        assert output.publish_batch([event]).dead == []
        assert es.documents == {f"packetshipper-{__version__}": [event]}


def test_test_output_reports_the_server_version() -> None:
    with EsServer(version="8.11.3") as es:
        report = setup_commands.test_output(config({"elasticsearch": {"hosts": [es.url]}}))
    assert "talk to server... OK" in report
    assert "version: 8.11.3" in report


def test_test_output_fails_with_the_report_when_nothing_listens() -> None:
    with pytest.raises(OutputError, match="dial up... ERROR"):
        setup_commands.test_output(config({"elasticsearch": {"hosts": [f"http://127.0.0.1:{free_port()}"]}}))


def test_test_output_checks_logstash_connections() -> None:
    with LumberjackServer() as srv:
        assert setup_commands.test_output(config({"logstash": {"hosts": [f"127.0.0.1:{srv.port}"]}})).endswith("connection... OK")


def test_setup_without_the_elasticsearch_output_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="output.elasticsearch"):
        setup_index_management(config({"console": {}}))
