"""The in-test Elasticsearch server answers as Elasticsearch documents, and a real client accepts it."""

from __future__ import annotations

import gzip
from typing import Any

import elasticsearch
import pytest
import requests
from servers.es_server import EsServer

NDJSON = {"Content-Type": "application/x-ndjson"}


def bulk(es: EsServer, body: bytes, headers: dict[str, str] | None = None, path: str = "/_bulk") -> requests.Response:
    return requests.post(es.url + path, data=body, headers=headers or NDJSON, timeout=10)


def test_the_official_python_client_talks_to_it() -> None:
    with EsServer(version="9.1.0") as es:
        client = elasticsearch.Elasticsearch(es.url)
        assert client.info()["version"]["number"] == "9.1.0"
        answer = client.bulk(operations=[
            {"index": {"_index": "logs"}}, {"a": 1},
            {"create": {"_index": "logs", "_id": "7"}}, {"b": 2},
            {"create": {"_index": "logs", "_id": "7"}}, {"b": 3},
            {"index": {"_index": "Bad"}}, {"c": 4},
        ])
        client.indices.put_index_template(name="t", index_patterns=["x-*"], data_stream={})
        assert client.indices.get_index_template(name="t")["index_templates"][0]["name"] == "t"
    assert answer["errors"] is True
    statuses = [next(iter(item.values()))["status"] for item in answer["items"]]
    assert statuses == [201, 201, 409, 400]
    assert next(iter(answer["items"][3].values()))["error"]["type"] == "invalid_index_name_exception"
    assert es.documents["logs"] == [{"a": 1}, {"b": 2}]


def test_a_client_speaking_an_incompatible_major_version_is_refused() -> None:
    with EsServer(version="7.17.0") as es, pytest.raises(elasticsearch.BadRequestError):
        elasticsearch.Elasticsearch(es.url).info()  # sends compatible-with=9


def test_every_answer_carries_the_product_header() -> None:
    with EsServer() as es:
        for answer in (requests.get(es.url, timeout=5), bulk(es, b"")):
            assert answer.headers["X-Elastic-Product"] == "Elasticsearch"


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"", 400, "no requests added"),
    (b'{"index":{"_index":"a"}}\n{"x":1}', 400, "must be terminated by a newline"),
    (b'{"index":{"_index":"a"}}\n', 400, "must be terminated by a newline"),
    (b'{"index":{"_index":"a"}\n{"x":1}\n', 400, "Malformed action/metadata line [1]"),
    (b'{"upsert":{"_index":"a"}}\n{"x":1}\n', 400, "expected field [create], [delete], [index] or [update]"),
    (b'{"index":{"_index":"a","colour":"red"}}\n{"x":1}\n', 400, "unknown parameter [colour]"),
    (b'{"index":{},"create":{}}\n{"x":1}\n', 400, "Malformed action/metadata line [1]"),
    (b'{"index":{}}\n{"x":1}\n', 400, "index is missing"),
])
def test_malformed_ndjson_is_refused_as_elasticsearch_refuses_it(body: bytes, status: int, reason: str) -> None:
    with EsServer() as es:
        answer = bulk(es, body)
        assert es.documents == {}
    assert answer.status_code == status
    assert reason in answer.json()["error"]["reason"]


def test_a_source_line_that_is_not_json_fails_only_its_item() -> None:
    with EsServer() as es:
        answer = bulk(es, b'{"index":{"_index":"a"}}\n{"x":\n{"index":{"_index":"a"}}\n{"y":2}\n').json()
    assert answer["errors"] is True
    assert [item["index"]["status"] for item in answer["items"]] == [400, 201]
    assert answer["items"][0]["index"]["error"]["type"] == "document_parsing_exception"


def test_the_index_in_the_url_is_the_default_for_items() -> None:
    with EsServer() as es:
        assert bulk(es, b'{"create":{}}\n{"x":1}\n', path="/from-url/_bulk").status_code == 200
        assert es.documents == {"from-url": [{"x": 1}]}


def test_unsupported_content_type_is_406() -> None:
    with EsServer() as es:
        answer = bulk(es, b'{"index":{"_index":"a"}}\n{"x":1}\n', {"Content-Type": "text/plain"})
    assert answer.status_code == 406


def test_gzip_bodies_are_inflated_and_broken_gzip_is_400() -> None:
    body = b'{"index":{"_index":"a"}}\n{"x":1}\n'
    with EsServer() as es:
        assert bulk(es, gzip.compress(body), {**NDJSON, "Content-Encoding": "gzip"}).status_code == 200
        assert bulk(es, b"\x1f\x8b-not-gzip", {**NDJSON, "Content-Encoding": "gzip"}).status_code == 400
        assert es.documents == {"a": [{"x": 1}]}


def test_data_streams_take_only_create_with_a_timestamp() -> None:
    with EsServer() as es:
        es.templates["t"] = {"index_patterns": ["logs-*"], "data_stream": {}}
        answer = bulk(es, b'{"index":{"_index":"logs-a"}}\n{"@timestamp":"2024-01-01T00:00:00Z"}\n'
                          b'{"create":{"_index":"logs-a"}}\n{"x":1}\n'
                          b'{"create":{"_index":"logs-a"}}\n{"@timestamp":"2024-01-01T00:00:00Z"}\n').json()
    reasons = [item.get("index", item.get("create")).get("error", {}).get("reason") for item in answer["items"]]
    assert "only write ops with an op_type of create are allowed in data streams" in reasons[0]
    assert "timestamp field [@timestamp] is missing" in reasons[1]
    assert reasons[2] is None
    assert answer["items"][2]["create"]["_index"].startswith(".ds-logs-a-")


def test_filter_path_keeps_only_the_named_paths() -> None:
    with EsServer() as es:
        answer = bulk(es, b'{"index":{"_index":"a"}}\n{"x":1}\n{"index":{"_index":"B"}}\n{"x":1}\n',
                      path="/_bulk?filter_path=errors,items.*.error,items.*.status").json()
    assert answer == {"errors": True, "items": [
        {"index": {"status": 201}},
        {"index": {"status": 400, "error": answer["items"][1]["index"]["error"]}},
    ]}
    assert set(answer["items"][1]["index"]["error"]) == {"type", "reason", "index"}


def test_bodies_over_max_content_length_are_413() -> None:
    with EsServer(max_content_length=100) as es:
        assert bulk(es, b'{"index":{"_index":"a"}}\n{"x":"' + b"y" * 200 + b'"}\n').status_code == 413


def test_credentials_are_required_once_users_exist() -> None:
    with EsServer() as es:
        es.users = {"elastic": "pw"}
        anonymous = requests.get(es.url, timeout=5)
        known = requests.get(es.url, auth=("elastic", "pw"), timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "security_exception"
    assert known.status_code == 200


def test_item_hook_and_request_plan_inject_failures() -> None:
    def hook(action: str, index: str, doc: Any) -> int | None:
        return 429 if doc.get("x") == 2 else None

    with EsServer() as es:
        es.item_hook = hook
        es.request_plan = [503]
        first = bulk(es, b'{"index":{"_index":"a"}}\n{"x":1}\n')
        second = bulk(es, b'{"index":{"_index":"a"}}\n{"x":1}\n{"index":{"_index":"a"}}\n{"x":2}\n').json()
    assert first.status_code == 503
    assert [item["index"]["status"] for item in second["items"]] == [201, 429]
    assert second["items"][1]["index"]["error"]["type"] == "es_rejected_execution_exception"
