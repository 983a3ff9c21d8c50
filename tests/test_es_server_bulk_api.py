"""The in-test Elasticsearch server answers as Elasticsearch documents, and a real client accepts it."""

from __future__ import annotations

import gzip
import threading
from typing import Any

import elasticsearch
import pytest
import requests
from servers.es_server import EsServer

NDJSON = {"Content-Type": "application/x-ndjson"}
CLIENT_VERSION = f"{elasticsearch.__versionstr__.split('.')[0]}.1.0"  # the client checks compatibility


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


def test_create_of_an_existing_id_is_409_shaped_as_elasticsearch_shapes_it() -> None:
    with EsServer(version=CLIENT_VERSION) as es:
        answer = elasticsearch.Elasticsearch(es.url).bulk(operations=[
            {"create": {"_index": "logs", "_id": "a1"}}, {"n": 1},
            {"create": {"_index": "logs", "_id": "a1"}}, {"n": 2},
            {"create": {"_index": "other", "_id": "a1"}}, {"n": 3},  # ids are unique per index only
        ])
        stored = es.documents
    first, second, third = (item["create"] for item in answer["items"])
    assert (first["status"], first["result"], first["_version"]) == (201, "created", 1)
    assert third["status"] == 201
    # Elasticsearch 8's bulk item for this case: _index, _id, status, and an error object with these keys.
    assert set(second) == {"_index", "_id", "status", "error"}
    assert (second["_index"], second["_id"], second["status"]) == ("logs", "a1", 409)
    error = second["error"]
    assert set(error) == {"type", "reason", "index_uuid", "shard", "index"}
    assert error["type"] == "version_conflict_engine_exception"
    assert error["reason"] == "[a1]: version conflict, document already exists (current version [1])"
    assert (error["shard"], error["index"]) == ("0", "logs")
    assert stored == {"logs": [{"n": 1}], "other": [{"n": 3}]}  # the conflicting document was not stored


def test_index_of_an_existing_id_replaces_it_and_the_conflict_names_the_new_version() -> None:
    with EsServer(version=CLIENT_VERSION) as es:
        client = elasticsearch.Elasticsearch(es.url)
        answer = client.bulk(operations=[
            {"index": {"_index": "logs", "_id": "x"}}, {"v": 1},
            {"index": {"_index": "logs", "_id": "x"}}, {"v": 2},
            {"create": {"_index": "logs", "_id": "x"}}, {"v": 3},
        ])
        fetched = client.get(index="logs", id="x")
        stored = es.documents
    statuses = [(item[op]["status"], item[op].get("result")) for item, op in
                zip(answer["items"], ("index", "index", "create"), strict=True)]
    assert statuses == [(201, "created"), (200, "updated"), (409, None)]
    assert answer["items"][1]["index"]["_version"] == 2
    assert "(current version [2])" in answer["items"][2]["create"]["error"]["reason"]
    assert stored == {"logs": [{"v": 2}]}
    assert (fetched["_version"], fetched["_source"]) == (2, {"v": 2})


def test_the_official_client_raises_its_conflict_error_for_a_second_create() -> None:
    with EsServer(version=CLIENT_VERSION) as es:
        client = elasticsearch.Elasticsearch(es.url)
        assert client.create(index="logs", id="7", document={"a": 1})["result"] == "created"
        with pytest.raises(elasticsearch.ConflictError) as raised:
            client.create(index="logs", id="7", document={"a": 2})
        with pytest.raises(elasticsearch.NotFoundError):
            client.get(index="logs", id="8")
    assert raised.value.status_code == 409
    assert raised.value.message == "version_conflict_engine_exception"
    assert raised.value.body["error"]["root_cause"][0]["reason"] == (
        "[7]: version conflict, document already exists (current version [1])")


def test_a_dropped_answer_is_indexed_and_the_official_clients_own_retry_meets_409() -> None:
    operations: list[Any] = []
    for n in range(3):
        operations += [{"create": {"_index": "logs", "_id": f"id-{n}"}}, {"n": n}]
    with EsServer(version=CLIENT_VERSION) as es:
        es.request_plan = ["drop"]
        # The client resends a request whose connection died, as any HTTP client may: exactly the case.
        answer = elasticsearch.Elasticsearch(es.url, max_retries=1, retry_on_timeout=True).bulk(operations=operations)
        counters = (es.responses_dropped, es.conflicts, es.conflicts_answered)
        stored = es.documents
    assert [item["create"]["status"] for item in answer["items"]] == [409, 409, 409]
    assert stored == {"logs": [{"n": 0}, {"n": 1}, {"n": 2}]}
    assert counters == (1, 3, 3)


def test_drop_responses_closes_that_fraction_of_connections_without_an_answer_after_indexing() -> None:
    body = b'{"create":{"_index":"a","_id":"1"}}\n{"x":1}\n'
    with EsServer(drop_responses=1.0) as es:
        with pytest.raises(requests.ConnectionError):
            bulk(es, body)
        with pytest.raises(requests.ConnectionError):
            bulk(es, body)
        counters = (es.responses_dropped, es.conflicts, es.conflicts_answered)
        stored = es.documents
    assert stored == {"a": [{"x": 1}]}
    assert counters == (2, 1, 0)  # the second request's 409 never reached the client
    with EsServer(drop_responses=0.3, drop_seed=1) as es:
        outcomes = []
        for n in range(200):
            try:
                outcomes.append(bulk(es, b'{"index":{"_index":"a"}}\n{"n":%d}\n' % n).status_code)
            except requests.ConnectionError:
                outcomes.append(0)
        assert len(es.all_documents()) == 200
    assert outcomes.count(0) == es.responses_dropped
    assert 30 <= outcomes.count(0) <= 90  # binomial(200, 0.3): mean 60, sd 6.5; the seed fixes it anyway


def test_a_held_request_is_neither_indexed_nor_answered() -> None:
    with EsServer() as es:
        es.request_plan = ["hold"]
        failure: list[BaseException] = []

        def send() -> None:
            try:
                bulk(es, b'{"create":{"_index":"a","_id":"1"}}\n{"x":1}\n')
            except requests.ConnectionError as exc:
                failure.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        assert es.holding.wait(10)
        es.release_held()
        sender.join(10)
        assert es.documents == {}
    assert len(failure) == 1
