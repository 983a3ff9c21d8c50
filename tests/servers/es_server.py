"""An HTTP server implementing the parts of the Elasticsearch REST API a Beats-style shipper uses.

Written from Elasticsearch's documentation: `GET /` (cluster info), `POST [/<target>]/_bulk` (NDJSON
actions `index`, `create`, `delete`, `update`, item statuses, `errors`, `filter_path`, gzip bodies,
`http.max_content_length` as 413, data streams accepting only `create` and needing `@timestamp`,
409 for `create` of an existing `_id`, index name rules, unknown ingest pipelines), `PUT/GET
_index_template/<name>`, `PUT/GET _ilm/policy/<name>`, `PUT _ingest/pipeline/<id>`, basic and API-key
authentication, the `X-Elastic-Product` header and REST API compatibility (`compatible-with`) checks.

Documents keep Elasticsearch's per-id semantics: `create` of an `_id` that exists is 409
`version_conflict_engine_exception` shaped as Elasticsearch shapes it (`[<id>]: version conflict,
document already exists (current version [N])`, with `index_uuid`, `shard` and `index`), `index` of an
existing `_id` replaces it (`result: updated`, version + 1, status 200). `PUT /<index>/_create/<id>` and
`GET /<index>/_doc/<id>` do the same for single documents.

Failure injection for tests: `item_hook(action, index, source) -> status | None` decides item
statuses; `request_plan` is a list of what the next `_bulk` requests get instead of normal handling:
an int (that HTTP status, with an Elasticsearch error body), `"reset"` (read part of the body, then
reset the connection), `"drop"` (index everything, then close the connection without answering),
`"hold"` (set `holding`, wait for `release_held()`, then close without indexing or answering: a request
in flight for as long as a test needs), or `("slow", seconds)` (handle normally, answer late). `drop_responses` (0 to 1) drops that fraction of
the other bulk answers after indexing, chosen by a `random.Random(drop_seed)`. The server counts what
it did: `responses_dropped`, `conflicts` (409 items it produced) and `conflicts_answered` (those in
answers the client received). `actions` lists every bulk item's (action, metadata) as received.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import itertools
import json
import random
import re
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["EsServer"]

_ACTIONS = ("create", "delete", "index", "update")
_ACTION_PARAMS = {"_index", "_id", "routing", "pipeline", "require_alias", "if_seq_no", "if_primary_term",
                  "version", "version_type", "dynamic_templates", "retry_on_conflict", "_source",
                  "require_data_stream", "list_executed_pipelines"}
_BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')
_MEDIA = re.compile(r"^\s*application/(?:vnd\.elasticsearch\+)?(json|x-ndjson)\s*(?:;(.*))?$", re.IGNORECASE)

ItemHook = Callable[[str, str, Any], "int | None"]

_REASONS = {
    400: ("illegal_argument_exception", "bad request"),
    401: ("security_exception", "unable to authenticate user"),
    413: ("", ""),
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    500: ("exception", "internal server error"),
    503: ("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"),
}


def _error_body(status: int, kind: str, reason: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


class _HttpError(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.body = status, _error_body(status, kind, reason)


def _filter(value: Any, paths: list[list[str]]) -> Any:
    """Elasticsearch's `filter_path`: keep only matching dotted paths (`*` matches one level)."""
    if isinstance(value, list):
        kept = [_filter(v, paths) for v in value]
        return [v for v in kept if v is not _DROP]
    if not isinstance(value, dict):
        return value if any(not p for p in paths) else _DROP
    if any(not p for p in paths):
        return value
    out = {}
    for key, sub in value.items():
        rest = [p[1:] for p in paths if p and (p[0] == "*" or p[0] == key)]
        if rest:
            kept = _filter(sub, rest)
            if kept is not _DROP and kept != {}:
                out[key] = kept
    return out if out else _DROP


_DROP = object()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        es = self.server.owner
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        es._log_request(method, url.path, query, dict(self.headers))
        delay = 0.0
        try:
            vendor = self._check_media_types()
            self._authenticate()
            if parts and parts[-1] == "_bulk" and method in ("POST", "PUT") and len(parts) <= 2:
                plan = es._next_plan()
                if plan == "reset":
                    self._reset_mid_request()
                    return
                if plan == "hold":
                    es.holding.set()
                    es._released.wait(120)
                    self._close_without_answer()
                    return
                if isinstance(plan, int):
                    self._discard_body()
                    raise _HttpError(plan, *_REASONS.get(plan, ("exception", f"status {plan}")))
                if isinstance(plan, tuple):
                    delay = float(plan[1])
                body = self._body()
                status, answer = 200, es._bulk(parts[0] if len(parts) == 2 else None, body, query)
                if es._bulk_answered(answer, drop=plan == "drop"):
                    self._close_without_answer()
                    return
            else:
                body = self._body()
                status, answer = es._route(method, parts, body)
        except _HttpError as exc:
            status, answer, vendor = exc.status, exc.body, False
        if "filter_path" in query and status == 200:
            paths = [p.split(".") for p in query["filter_path"].split(",") if p]
            answer = _filter(answer, paths)
            answer = {} if answer is _DROP else answer
        if delay:
            time.sleep(delay)
        self._answer(status, answer, vendor, head=method == "HEAD")

    # --- request plumbing ----------------------------------------------------------------------

    def _check_media_types(self) -> bool:
        es = self.server.owner
        vendor = False
        for header in ("Content-Type", "Accept"):
            value = self.headers.get(header)
            if not value or (header == "Accept" and value.strip() in ("*/*", "")):
                continue
            match = _MEDIA.match(value.split(",")[0])
            if not match:
                if header == "Content-Type":
                    raise _HttpError(406, "media_type_header_exception",
                                     f"Content-Type header [{value}] is not supported")
                continue
            if "vnd.elasticsearch" in value.lower():
                vendor = True
                compat = re.search(r"compatible-with\s*=\s*(\d+)", match.group(2) or "")
                major = int(es.version.split(".")[0])
                if not compat or int(compat.group(1)) not in (major, major - 1):
                    raise _HttpError(400, "media_type_header_exception",
                                     f"Invalid media-type value on headers [{header}]; "
                                     f"Accept version must be either version {major} or {major - 1}")
        return vendor

    def _authenticate(self) -> None:
        es = self.server.owner
        if not es.users and not es.api_keys:
            return
        header = self.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        if scheme.lower() == "basic" and ":" in decoded:
            user, _, password = decoded.partition(":")
            if es.users.get(user) == password:
                return
        if scheme.lower() == "apikey" and decoded in es.api_keys:
            return
        raise _HttpError(401, "security_exception",
                         "missing authentication credentials for REST request" if not header
                         else "unable to authenticate with provided credentials")

    def _raw_body(self) -> bytes:
        es = self.server.owner
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > es.max_content_length:
                    self.close_connection = True
                    raise _HttpError(413, "", "")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > es.max_content_length:
            self.close_connection = True
            raise _HttpError(413, "", "")
        return self.rfile.read(length) if length else b""

    def _body(self) -> bytes:
        es = self.server.owner
        body = self._raw_body()
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip" and body:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                raise _HttpError(400, "illegal_argument_exception", "invalid gzip content") from None
            if len(body) > es.max_content_length:
                raise _HttpError(413, "", "")
        elif encoding not in ("", "identity"):
            raise _HttpError(400, "illegal_argument_exception", f"unsupported content encoding [{encoding}]")
        return body

    def _discard_body(self) -> None:
        with contextlib.suppress(_HttpError):
            self._raw_body()

    def _close_without_answer(self) -> None:
        """What a client sees when a node dies or a proxy times out after the request was handled."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset_mid_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(max(1, length // 2))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _answer(self, status: int, answer: Any, vendor: bool, head: bool = False) -> None:
        es = self.server.owner
        data = b"" if status == 413 else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        if data:
            major = es.version.split(".")[0]
            self.send_header("Content-Type", f"application/vnd.elasticsearch+json;compatible-with={major}"
                             if vendor else "application/json")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"')
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: EsServer


@dataclass(slots=True)
class _Stored:
    position: int  # in `EsServer.documents[index]`
    version: int
    seq_no: int


class EsServer:
    """`with EsServer() as es:` listens on 127.0.0.1:`es.port`; `es.url` is its base URL."""

    def __init__(self, version: str = "8.17.0", ssl_context: ssl.SSLContext | None = None,
                 max_content_length: int = 100 * 1024 * 1024, port: int = 0, drop_responses: float = 0.0,
                 drop_seed: int = 0) -> None:
        if not 0.0 <= drop_responses <= 1.0:
            raise ValueError("drop_responses is a fraction from 0 to 1")
        self.version = version
        self.drop_responses = drop_responses
        self._drop_rng = random.Random(drop_seed)
        self.responses_dropped = 0
        self.conflicts = 0
        self.conflicts_answered = 0
        self.holding = threading.Event()
        self._released = threading.Event()
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.max_content_length = max_content_length
        self.users: dict[str, str] = {}
        self.api_keys: set[str] = set()  # "id:key" as sent base64-encoded after "ApiKey "
        self.item_hook: ItemHook | None = None
        self.request_plan: list[Any] = []
        self.templates: dict[str, dict[str, Any]] = {}
        self.ilm_policies: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, list[dict[str, Any]]] = {}  # by index or data stream name
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.bulk_requests = 0
        self._ids: dict[tuple[str, str], _Stored] = {}
        self._seq_no: dict[str, int] = {}
        self._index_uuids: dict[str, str] = {}
        self._auto_id = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> EsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def all_documents(self) -> list[dict[str, Any]]:
        with self._lock:
            return [doc for docs in self.documents.values() for doc in docs]

    def release_held(self) -> None:
        self._released.set()

    def document_ids(self) -> list[tuple[str, str]]:
        """(index, _id) of every stored document, client-given and generated alike."""
        with self._lock:
            return list(self._ids)

    # --- internals, called from handler threads --------------------------------------------------

    def _log_request(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, query, headers))

    def _next_plan(self) -> Any:
        with self._lock:
            self.bulk_requests += 1
            return self.request_plan.pop(0) if self.request_plan else None

    def _bulk_answered(self, answer: dict[str, Any], drop: bool) -> bool:
        """Count the 409s of a bulk answer and decide whether it is dropped; True: do not send it."""
        conflicts = sum(1 for item in answer["items"] if next(iter(item.values()))["status"] == 409)
        with self._lock:
            self.conflicts += conflicts
            drop = drop or (self.drop_responses > 0 and self._drop_rng.random() < self.drop_responses)
            if drop:
                self.responses_dropped += 1
            else:
                self.conflicts_answered += conflicts
            return drop

    def _route(self, method: str, parts: list[str], body: bytes) -> tuple[int, Any]:
        if not parts and method in ("GET", "HEAD"):
            return 200, self._info()
        if len(parts) == 2 and parts[0] == "_index_template":
            return self._named(method, parts[1], body, self.templates, "index_templates", "index_template")
        if len(parts) == 3 and parts[:2] == ["_ilm", "policy"]:
            return self._named(method, parts[2], body, self.ilm_policies, None, "policy")
        if len(parts) == 3 and parts[:2] == ["_ingest", "pipeline"]:
            return self._named(method, parts[2], body, self.pipelines, None, None)
        if len(parts) == 3 and parts[1] == "_create" and method in ("PUT", "POST"):
            return self._create_one(parts[0], parts[2], body)
        if len(parts) == 3 and parts[1] == "_doc" and method in ("GET", "HEAD"):
            return self._get_one(parts[0], parts[2])
        raise _HttpError(400, "illegal_argument_exception",
                         f"no handler found for uri [/{'/'.join(parts)}] and method [{method}]")

    def _info(self) -> dict[str, Any]:
        return {
            "name": "es-test", "cluster_name": "test", "cluster_uuid": "q4C3bCqSRhqcM6dVRr6sBQ",
            "version": {"number": self.version, "build_flavor": "default", "build_type": "tar",
                        "lucene_version": "9.12.0", "minimum_wire_compatibility_version": "7.17.0",
                        "minimum_index_compatibility_version": "7.0.0"},
            "tagline": "You Know, for Search",
        }

    def _named(self, method: str, name: str, body: bytes, store: dict[str, Any], list_key: str | None,
               item_key: str | None) -> tuple[int, Any]:
        if method == "PUT":
            doc = self._json_object(body)
            if store is self.templates and not doc.get("index_patterns"):
                raise _HttpError(400, "action_request_validation_exception",
                                 "Validation Failed: 1: index patterns are missing;")
            if store is self.ilm_policies and "policy" not in doc:
                raise _HttpError(400, "x_content_parse_exception", "[put_lifecycle_request] policy is required")
            with self._lock:
                store[name] = doc.get(item_key, doc) if item_key == "policy" else doc
            return 200, {"acknowledged": True}
        if method in ("GET", "HEAD"):
            with self._lock:
                found = store.get(name)
            if found is None:
                raise _HttpError(404, "resource_not_found_exception", f"[{name}] not found")
            if list_key:
                return 200, {list_key: [{"name": name, item_key: found}]}
            return 200, {name: {item_key: found} if item_key else found}
        if method == "DELETE":
            with self._lock:
                if store.pop(name, None) is None:
                    raise _HttpError(404, "resource_not_found_exception", f"[{name}] not found")
            return 200, {"acknowledged": True}
        raise _HttpError(405, "illegal_argument_exception", f"method [{method}] not allowed")

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _HttpError(400, "x_content_parse_exception", f"failed to parse request body: {exc}") from None
        if not isinstance(doc, dict):
            raise _HttpError(400, "x_content_parse_exception", "request body must be a JSON object")
        return doc

    def _create_one(self, index: str, doc_id: str, body: bytes) -> tuple[int, Any]:
        item = self._item("create", {"_index": index, "_id": doc_id}, body, None, {})["create"]
        status = item.pop("status")
        if "error" not in item:
            return status, item
        error = item["error"]
        return status, {"error": {"root_cause": [dict(error)], **error}, "status": status}

    def _get_one(self, index: str, doc_id: str) -> tuple[int, Any]:
        with self._lock:
            if index not in self.documents:
                raise _HttpError(404, "index_not_found_exception", f"no such index [{index}]")
            stored = self._ids.get((index, doc_id))
            source = self.documents[index][stored.position] if stored is not None else None
        if stored is None:
            return 404, {"_index": index, "_id": doc_id, "found": False}
        return 200, {"_index": index, "_id": doc_id, "_version": stored.version, "_seq_no": stored.seq_no,
                     "_primary_term": 1, "found": True, "_source": source}

    def _is_data_stream(self, name: str) -> bool:
        with self._lock:
            templates = list(self.templates.values())
        for template in templates:
            if "data_stream" not in template:
                continue
            for pattern in template.get("index_patterns", []):
                if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name):
                    return True
        return False

    def _bulk(self, url_index: str | None, body: bytes, query: dict[str, str]) -> dict[str, Any]:
        if not body:
            raise _HttpError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
        if not body.endswith(b"\n"):
            raise _HttpError(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        lines = body.split(b"\n")[:-1]
        requests = []
        i = 0
        while i < len(lines):
            line_no = i + 1
            if not lines[i].strip():
                i += 1
                continue
            try:
                action_line = json.loads(lines[i])
            except (UnicodeDecodeError, ValueError):
                raise _HttpError(400, "x_content_parse_exception",
                                 f"[{line_no}:1] Malformed action/metadata line [{line_no}]") from None
            if not isinstance(action_line, dict) or len(action_line) != 1:
                raise _HttpError(400, "illegal_argument_exception",
                                 f"Malformed action/metadata line [{line_no}], expected START_OBJECT")
            (action, meta), = action_line.items()
            if action not in _ACTIONS:
                raise _HttpError(400, "illegal_argument_exception",
                                 f"Malformed action/metadata line [{line_no}], expected field [create], "
                                 f"[delete], [index] or [update] but found [{action}]")
            if not isinstance(meta, dict):
                raise _HttpError(400, "illegal_argument_exception",
                                 f"Malformed action/metadata line [{line_no}], expected START_OBJECT")
            for key in meta:
                if key not in _ACTION_PARAMS:
                    raise _HttpError(400, "illegal_argument_exception",
                                     f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]")
            source = None
            if action != "delete":
                if i + 1 >= len(lines):
                    raise _HttpError(400, "illegal_argument_exception",
                                     "The bulk request must be terminated by a newline [\\n]")
                source = lines[i + 1]
                i += 1
            i += 1
            requests.append((action, meta, source))
        if not requests:
            raise _HttpError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
        missing = [n + 1 for n, (_, meta, _) in enumerate(requests) if not (meta.get("_index") or url_index)]
        if missing:
            raise _HttpError(400, "action_request_validation_exception",
                             "Validation Failed: " + "".join(f"{k}: index is missing;" for k, _ in enumerate(missing, 1)))
        with self._lock:
            self.actions.extend((action, meta) for action, meta, _ in requests)
        start = time.monotonic()
        items = [self._item(action, meta, source, url_index, query) for action, meta, source in requests]
        errors = any("error" in next(iter(item.values())) for item in items)
        return {"errors": errors, "took": int((time.monotonic() - start) * 1000), "items": items}

    def _item(self, action: str, meta: dict[str, Any], source: bytes | None, url_index: str | None,
              query: dict[str, str]) -> dict[str, Any]:
        index = meta.get("_index") or url_index or ""
        doc_id = meta.get("_id")
        base: dict[str, Any] = {"_index": index, "_id": doc_id}

        def fail(status: int, kind: str, reason: str) -> dict[str, Any]:
            return {action: {**base, "status": status, "error": {"type": kind, "reason": reason,
                                                                 "index": index}}}

        if index != index.lower() or index[:1] in "-_+" or set(index) & _BAD_INDEX_CHARS or index in (".", ".."):
            return fail(400, "invalid_index_name_exception",
                        f"Invalid index name [{index}], must be lowercase and not contain the characters "
                        "\\, /, *, ?, \", <, >, |, ' ', ',', #, :")
        doc: Any = None
        if source is not None:
            try:
                doc = json.loads(source)
            except (UnicodeDecodeError, ValueError) as exc:
                return fail(400, "document_parsing_exception", f"[1:1] failed to parse: {exc}")
            if not isinstance(doc, dict):
                return fail(400, "document_parsing_exception", "[1:1] failed to parse: not a JSON object")
        pipeline = meta.get("pipeline") or query.get("pipeline")
        if pipeline and pipeline != "_none" and pipeline not in self.pipelines:
            return fail(400, "illegal_argument_exception", f"pipeline with id [{pipeline}] does not exist")
        data_stream = self._is_data_stream(index)
        if data_stream and action != "create":
            return fail(400, "illegal_argument_exception",
                        "only write ops with an op_type of create are allowed in data streams")
        if data_stream and "@timestamp" not in doc:
            return fail(400, "document_parsing_exception",
                        "data stream timestamp field [@timestamp] is missing")
        if self.item_hook is not None:
            status = self.item_hook(action, index, doc)
            if status is not None and status >= 300:
                kind, reason = _REASONS.get(status, ("mapper_parsing_exception", "failed to parse field"))
                if status == 400:
                    kind, reason = "document_parsing_exception", "[1:42] failed to parse field [x] of type [long]"
                return fail(status, kind, reason)
        if action in ("delete", "update"):
            return fail(400, "illegal_argument_exception", f"{action} is not supported by this test server")
        real_index = f".ds-{index}-{time.strftime('%Y.%m.%d')}-000001" if data_stream else index
        with self._lock:
            if doc_id is None:
                doc_id = f"auto-{next(self._auto_id)}"
            docs = self.documents.setdefault(index, [])
            uuid = self._index_uuids.get(real_index)
            if uuid is None:
                uuid = self._index_uuids[real_index] = base64.urlsafe_b64encode(random.randbytes(16)).decode()[:22]
            stored = self._ids.get((index, doc_id))
            if stored is not None and action == "create":
                return {action: {"_index": real_index, "_id": doc_id, "status": 409, "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists "
                              f"(current version [{stored.version}])",
                    "index_uuid": uuid, "shard": "0", "index": real_index}}}
            seq_no = self._seq_no[real_index] = self._seq_no.get(real_index, -1) + 1
            if stored is None:
                stored = self._ids[(index, doc_id)] = _Stored(len(docs), 1, seq_no)
                docs.append(doc)
                result, status = "created", 201
            else:  # `index` of an existing id replaces the document
                stored.version, stored.seq_no = stored.version + 1, seq_no
                docs[stored.position] = doc
                result, status = "updated", 200
        return {action: {"_index": real_index, "_id": doc_id, "_version": stored.version, "result": result,
                         "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": seq_no,
                         "_primary_term": 1, "status": status}}
