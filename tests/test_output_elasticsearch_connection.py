"""The Elasticsearch output's connection: URLs, auth, gzip, TLS, load balancing and fail-over."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.elasticsearch import ElasticsearchOutput, base_url
from packetshipper.settings import ConfigError, validate
from servers.certs import OPENSSL, make_certificates
from servers.es_server import EsServer
from servers.redis_server import free_port

EVENT = {"@timestamp": "2024-03-05T06:07:08.123Z", "agent": {"version": "0.1.0"}, "message": "hi"}


def make_output(**cfg: Any) -> ElasticsearchOutput:
    return ElasticsearchOutput(validate(ElasticsearchOutput.settings, cfg))


@pytest.mark.parametrize(("host", "protocol", "path", "url"), [
    ("localhost", None, "", "http://localhost:9200"),
    ("es1:9201", "https", "", "https://es1:9201"),
    ("https://es1", "http", "", "https://es1:9200"),
    ("http://es1:80/prefix", None, "/more/", "http://es1:80/prefix/more"),
    ("[::1]", None, "", "http://[::1]:9200"),
    ("[::1]:9300", None, "es", "http://[::1]:9300/es"),
])
def test_hosts_become_urls_as_beats_builds_them(host: str, protocol: str | None, path: str, url: str) -> None:
    assert base_url(host, protocol, path) == url


def test_api_key_and_username_together_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="api_key"):
        make_output(hosts=["localhost"], api_key="id:key", username="elastic")


def test_bulk_requests_are_gzipped_ndjson_with_beats_filter_path_and_create_actions() -> None:
    with EsServer() as es:
        output = make_output(hosts=[es.url], compression_level=5, parameters={"refresh": "false"})
        output.publish_batch([EVENT])
        method, path, query, headers = [r for r in es.requests if r[1] == "/_bulk"][0]
    assert method == "POST"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/x-ndjson"
    assert query == {"filter_path": "errors,items.*.error,items.*.status", "refresh": "false"}
    assert es.documents == {"packetshipper-0.1.0": [EVENT]}


def test_the_body_is_the_ndjson_the_bulk_api_documents() -> None:
    output = make_output(hosts=["localhost"], index="idx-%{[agent.version]}")
    from packetshipper.outputs.base import BatchResult

    items = output._encode([EVENT], b"create", BatchResult())
    body = b"".join(i.action + b"\n" + i.source + b"\n" for i in items)
    assert body == (b'{"create":{"_index":"idx-0.1.0"}}\n'
                    b'{"@timestamp":"2024-03-05T06:07:08.123Z","agent":{"version":"0.1.0"},"message":"hi"}\n')
    assert gzip.decompress(gzip.compress(body)) == body


def test_elasticsearch_before_7_5_gets_index_actions() -> None:
    with EsServer(version="7.4.2") as es:
        make_output(hosts=[es.url]).publish_batch([EVENT])
        assert es.documents == {"packetshipper-0.1.0": [EVENT]}
    with EsServer(version="7.4.2") as es:
        output = make_output(hosts=[es.url])
        output.connect()
        assert output._op_type(output.urls[0]) == b"index"


def test_basic_auth_and_api_key_are_sent_and_wrong_credentials_fail() -> None:
    with EsServer() as es:
        es.users = {"elastic": "changeme"}
        es.api_keys = {"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"}
        make_output(hosts=[es.url], username="elastic", password="changeme").publish_batch([EVENT])
        make_output(hosts=[es.url], api_key="VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").publish_batch([EVENT])
        with pytest.raises(OutputError, match="401"):
            make_output(hosts=[es.url], username="elastic", password="wrong").publish_batch([EVENT])
        sent = [r[3].get("Authorization") for r in es.requests if r[1] == "/_bulk"]
        assert len(es.all_documents()) == 2
    assert sent[0] == "Basic " + base64.b64encode(b"elastic:changeme").decode()
    assert sent[1] == "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def test_a_dead_host_is_skipped_for_the_next_one() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with EsServer() as es:
        output = make_output(hosts=[dead, es.url], loadbalance=False)
        for _ in range(3):
            assert output.publish_batch([EVENT]).retry == []
        assert len(es.all_documents()) == 3
    assert output.stats["connect_errors"] == 1


def test_no_reachable_host_raises_output_error() -> None:
    output = make_output(hosts=[f"http://127.0.0.1:{free_port()}"], timeout="2s")
    with pytest.raises(OutputError, match="no Elasticsearch host reachable"):
        output.publish_batch([EVENT])


def test_loadbalance_alternates_batches_over_hosts() -> None:
    with EsServer() as first, EsServer() as second:
        output = make_output(hosts=[first.url, second.url])
        for _ in range(4):
            output.publish_batch([EVENT])
        assert (len(first.all_documents()), len(second.all_documents())) == (2, 2)


def test_ingest_pipeline_is_named_per_item_and_an_unknown_one_is_a_dead_letter() -> None:
    with EsServer() as es:
        es.pipelines["geoip-info"] = {"processors": []}
        known = make_output(hosts=[es.url], pipeline="GeoIP-%{[message]}")  # lowercased as Beats does
        assert known.publish_batch([{**EVENT, "message": "info"}]).dead == []
        unknown = make_output(hosts=[es.url], pipeline="missing")
        result = unknown.publish_batch([EVENT])
    assert result.dead == [(0, "elasticsearch: 400 illegal_argument_exception: pipeline with id [missing] does not exist")]


def test_data_stream_accepts_the_create_actions_the_output_sends() -> None:
    with EsServer() as es:
        es.templates["ps"] = {"index_patterns": ["packetshipper-*"], "data_stream": {}}
        result = make_output(hosts=[es.url]).publish_batch([EVENT])
        assert result.dead == [] and es.documents == {"packetshipper-0.1.0": [EVENT]}


tls_only = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed (apt package openssl)")


@tls_only
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_with_the_configured_ca_works_and_an_unknown_ca_is_refused(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    with EsServer(ssl_context=certs.server_context()) as es:
        by_name = es.url.replace("127.0.0.1", "localhost")
        trusted = make_output(hosts=[by_name], ssl={"certificate_authorities": [str(certs.ca)]})
        assert trusted.publish_batch([EVENT]).retry == []
        wrong = make_output(hosts=[by_name], ssl={"certificate_authorities": [str(certs.other_ca)]})
        with pytest.raises(OutputError, match="CERTIFICATE_VERIFY_FAILED"):
            wrong.publish_batch([EVENT])
        unchecked = make_output(hosts=[es.url], ssl={"verification_mode": "none"})
        assert unchecked.publish_batch([EVENT]).retry == []
        assert len(es.all_documents()) == 2


@tls_only
def test_verification_mode_certificate_skips_the_host_name_but_not_the_chain(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    with EsServer(ssl_context=certs.server_context()) as es:
        other_name = es.url  # 127.0.0.1 is not among the certificate's names (only localhost is)
        full = make_output(hosts=[other_name], ssl={"certificate_authorities": [str(certs.ca)]})
        with pytest.raises(OutputError, match="127.0.0.1"):
            full.publish_batch([EVENT])
        chain_only = make_output(hosts=[other_name], ssl={"certificate_authorities": [str(certs.ca)],
                                                          "verification_mode": "certificate"})
        assert chain_only.publish_batch([EVENT]).retry == []
