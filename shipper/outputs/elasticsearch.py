"""`output.elasticsearch`: events through the `_bulk` API, answers handled as Beats handles them.

Whole-request failures (connection errors, non-200) raise OutputError so the pipeline retries the batch;
413 splits the batch in halves until it fits (one event still too large is dead); per item, 409 is a
duplicate (acknowledged), 429 and 5xx are retried, any other 4xx is dead with Elasticsearch's error.

Exactly once (`exactly_once`, on by default): the publisher gives each event a unique `@metadata._id`
when it is queued; it is sent as the bulk `_id` with the `create` op (as Beats does with an id), so a
batch resent after its answer was lost gets 409 for what was already indexed, counted as duplicates.
A failure before a connection exists is a connect error; once the request may have been sent (reset,
closed without an answer, timeout), a read error: Elasticsearch may have indexed it.
"""

from __future__ import annotations

import base64
import gzip
import ssl
from typing import Any, ClassVar

import orjson
import requests
from urllib3.exceptions import NewConnectionError

from ..compat import Identity
from ..settings import (
    ConfigError,
    Setting,
    Spec,
    any_mapping,
    at_least,
    boolean,
    duration,
    one_of,
    string,
    string_list,
)
from .base import BatchResult, Output, OutputError
from .encoded import EncodedEvent
from .fields_used import rule_fields
from .index_format import Selector, SelectorError, build_selector
from .tls import TLS_SETTINGS, TLSAdapter, client_context, tls_wanted

__all__ = ["ElasticsearchOutput", "DEFAULT_INDEX", "base_url"]

DEFAULT_INDEX = "packetshipper-%{[agent.version]}"
DEFAULT_PORT = 9200
# Only what the item loop reads, as Beats asks, to keep answers small.
_FILTER_PATH = "errors,items.*.error,items.*.status"


def _level(value: Any) -> int:
    level = at_least(0)(value)
    if level > 9:
        raise ValueError(f"must be from 0 to 9, got {value!r}")
    return int(level)


def _rules(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list of rules")
    return value


def base_url(host: str, protocol: str | None, path: str) -> str:
    """Beats' URL rule: a scheme in `host` wins over `protocol`; port 9200 by default; `path` appended."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = protocol or "http", host
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {scheme!r} in host {host!r}")
    hostport, _, host_path = rest.partition("/")
    if not hostport:
        raise ValueError(f"no host name in {host!r}")
    has_port = "]:" in hostport if hostport.startswith("[") else ":" in hostport
    if not has_port:
        hostport = f"{hostport}:{DEFAULT_PORT}"
    full_path = "/".join(p.strip("/") for p in (host_path, path) if p.strip("/"))
    return f"{scheme}://{hostport}" + (f"/{full_path}" if full_path else "")


def _never_connected(exc: requests.RequestException) -> bool:
    """True if the request cannot have reached Elasticsearch: refused, unresolvable, connect timeout, TLS.

    Anything else (reset, closed without an answer, read timeout) happened after urllib3 started
    sending, and urllib3 ignores errors while sending to read whatever answer came, so it is a read error.
    """
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", cause), NewConnectionError)


class _Item:
    __slots__ = ("index", "action", "source")

    def __init__(self, index: int, action: bytes, source: bytes) -> None:
        self.index, self.action, self.source = index, action, source


class ElasticsearchOutput(Output):
    name: ClassVar[str] = "elasticsearch"
    accepts_encoded = True
    settings: ClassVar[Spec] = {
        "bulk_max_size": Setting(at_least(1), 1600, "Most events per bulk request (Beats' default)."),
        "hosts": Setting(string_list, ["localhost:9200"], "Nodes: `host`, `host:port` or a URL."),
        "protocol": Setting(one_of("http", "https"), None, "Scheme for hosts given without one."),
        "path": Setting(string, "", "HTTP path prefix (Elasticsearch behind a proxy)."),
        "parameters": any_mapping("Extra query parameters for every bulk request."),
        "headers": any_mapping("Extra HTTP headers."),
        "username": Setting(string, None, "Basic authentication user."),
        "password": Setting(string, None, "Basic authentication password."),
        "api_key": Setting(string, None, "API key as `id:api_key`."),
        "compression_level": Setting(_level, 1, "gzip level of request bodies (0: uncompressed)."),
        "timeout": Setting(duration, 90.0, "HTTP request timeout."),
        "loadbalance": Setting(boolean, True, "Spread batches over all hosts; else use one and fail over."),
        "index": Setting(string, DEFAULT_INDEX, "Index or data stream name; a format string."),
        "indices": Setting(_rules, [], "Rules choosing the index per event: index, when, mappings, default."),
        "pipeline": Setting(string, None, "Ingest pipeline; a format string."),
        "pipelines": Setting(_rules, [], "Rules choosing the pipeline per event."),
        "exactly_once": Setting(boolean, True,
                                "Each event's own `_id`, sent with `create`: a batch resent after a lost answer "
                                "is not indexed twice (409s count as duplicates). false: Elasticsearch makes ids."),
        "ssl": TLS_SETTINGS,
    }

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        path = "output.elasticsearch"
        if config.get("api_key") and (config.get("username") or config.get("password")):
            raise ConfigError(f"{path}.api_key", "cannot set both api_key and username/password")
        try:
            self.urls = [base_url(h, config.get("protocol"), config.get("path") or "") for h in config["hosts"]]
        except ValueError as exc:
            raise ConfigError(f"{path}.hosts", str(exc)) from None
        if not self.urls:
            raise ConfigError(f"{path}.hosts", "at least one host is required")
        self.index = build_selector(config.get("index") or DEFAULT_INDEX, config.get("indices"), "index",
                                    f"{path}.indices", lowercase=True)
        self._default_index = (config.get("index") or DEFAULT_INDEX) == DEFAULT_INDEX
        self.pipeline: Selector | None = None
        if config.get("pipeline") or config.get("pipelines"):
            self.pipeline = build_selector(config.get("pipeline"), config.get("pipelines"), "pipeline",
                                           f"{path}.pipelines", lowercase=True)
        self.session = self._session(config, path)
        self.event_ids = bool(config.get("exactly_once", True))
        self.versions: dict[str, str] = {}
        self.host_index = 0
        self.stats = dict.fromkeys(
            ("batches", "events_acked", "events_duplicates", "events_retried", "events_dead", "events_too_many",
             "batch_splits", "bulk_errors", "connect_errors", "read_errors", "bytes_written"), 0)
        self.last_error = ""

    def _session(self, config: Any, path: str) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # proxies from the environment must not redirect events
        session.headers.update({"Accept": "application/json", "User-Agent": "packetshipper"})
        session.headers.update({str(k): str(v) for k, v in (config.get("headers") or {}).items()})
        if config.get("username"):
            session.auth = (config["username"], config.get("password") or "")
        if config.get("api_key"):
            token = base64.b64encode(config["api_key"].encode()).decode()
            session.headers["Authorization"] = f"ApiKey {token}"
        tls = config.get("ssl") or {}
        if tls_wanted(tls, any(u.startswith("https://") for u in self.urls)):
            context = client_context(tls, f"{path}.ssl")
            session.mount("https://", TLSAdapter(context))
            # requests turns `verify` into urllib3's cert_reqs, which overrides the context's own mode.
            session.verify = context.verify_mode != ssl.CERT_NONE
        return session

    def use_identity(self, identity: Identity) -> None:
        """Packetbeat's default index under packetshipper.compat (an index set by the user stays)."""
        super().use_identity(identity)
        if self._default_index:
            self.index = build_selector(identity.default_index, self.config.get("indices"), "index",
                                        "output.elasticsearch.indices", lowercase=True)

    def fields_used(self) -> frozenset[str]:
        """What the index and pipeline rules read; never @metadata, which Elasticsearch is not sent."""
        index = self.config.get("index") or DEFAULT_INDEX
        if self._default_index:
            index = self.identity.default_index
        used = rule_fields(index, self.config.get("indices"), "index")
        if self.pipeline is not None:
            used |= rule_fields(self.config.get("pipeline"), self.config.get("pipelines"), "pipeline")
        return frozenset(f for f in used if f != "@metadata" and not f.startswith("@metadata."))

    # --- connection ------------------------------------------------------------------------------

    def connect(self) -> None:
        self._pick_url()

    def server_version(self, url: str) -> str:
        """GET / on `url`: the Elasticsearch version number; raises OutputError."""
        try:
            answer = self.session.get(url + "/", timeout=self.config.get("timeout") or None)
        except requests.RequestException as exc:
            raise OutputError(f"{url}: {exc}") from exc
        if answer.status_code != 200:
            raise OutputError(f"{url}: GET / answered {answer.status_code}: {answer.text[:300]}")
        try:
            version = answer.json()["version"]["number"]
        except (ValueError, KeyError, TypeError):
            raise OutputError(f"{url}: GET / did not answer like Elasticsearch") from None
        return str(version)

    def _pick_url(self) -> str:
        """The host for this batch: rotate when load balancing; learn each host's version first."""
        errors = []
        for _ in range(len(self.urls)):
            url = self.urls[self.host_index]
            if url in self.versions:
                return url
            try:
                self.versions[url] = self.server_version(url)
                return url
            except OutputError as exc:
                self.stats["connect_errors"] += 1
                errors.append(str(exc))
                self.host_index = (self.host_index + 1) % len(self.urls)
        raise OutputError("no Elasticsearch host reachable: " + "; ".join(errors))

    def _failed(self, url: str) -> None:
        self.versions.pop(url, None)
        if len(self.urls) > 1:
            self.host_index = (self.host_index + 1) % len(self.urls)

    def close(self) -> None:
        self.session.close()

    # --- publishing --------------------------------------------------------------------------------

    def publish_batch(self, events: list[dict[str, Any]]) -> BatchResult:
        self.stats["batches"] += 1
        result = BatchResult()
        url = self._pick_url()
        if self.config.get("loadbalance", True) and len(self.urls) > 1:
            self.host_index = (self.host_index + 1) % len(self.urls)
        items = self._encode(events, self._op_type(url), result)
        self._send(url, items, result)
        if items and len(result.retry) == len(events) and not result.dead:
            self.stats["events_retried"] += len(events)
            raise OutputError(f"elasticsearch: {self.last_error}")
        result.retry.sort()
        self.stats["events_retried"] += len(result.retry)
        self.stats["events_acked"] += len(events) - len(result.retry) - len(result.dead) - result.duplicates
        return result

    def _op_type(self, url: str) -> bytes:
        """The op for events without an id; with one it is always `create` (Beats' rule)."""
        major, _, rest = self.versions.get(url, "8").partition(".")
        minor = rest.partition(".")[0]
        version = (int(major) if major.isdigit() else 8, int(minor) if minor.isdigit() else 0)
        # `create` is what data streams accept; Elasticsearch before 7.5 knew no data streams.
        return b"create" if version >= (7, 5) else b"index"

    def _encode(self, events: list[Any], op: bytes, result: BatchResult) -> list[_Item]:
        items = []
        dumps, select, pipeline = orjson.dumps, self.index.select, self.pipeline
        encoded: list[EncodedEvent | None] = self.encoded(events, result.dead, self._unencodable)
        for i, event in enumerate(encoded):
            if event is None:
                continue
            meta, view = event.meta, event.fields
            try:
                raw_index = meta.get("raw_index") if isinstance(meta, dict) else None  # Beats': the index as it is
                header: dict[str, Any] = {"_index": str(raw_index) if raw_index else select(view)}
                item_op = op
                if isinstance(meta, dict):
                    if meta.get("_id"):
                        header["_id"] = str(meta["_id"])
                        item_op = b"create"
                    if meta.get("pipeline"):
                        header["pipeline"] = str(meta["pipeline"]).lower()
                if "pipeline" not in header and pipeline is not None:
                    header["pipeline"] = pipeline.select(view)
            except SelectorError as exc:
                result.dead.append((i, f"elasticsearch: cannot encode event: {exc}"))
                self.stats["events_dead"] += 1
                continue
            action = b'{"' + item_op + b'":' + dumps(header) + b"}"
            items.append(_Item(i, action, event.doc))
        return items

    def _unencodable(self, reason: str) -> str:
        self.stats["events_dead"] += 1
        return f"elasticsearch: cannot encode event: {reason}"

    def _send(self, url: str, items: list[_Item], result: BatchResult) -> bool:
        """Bulk-send `items`, recording each one's fate in `result`; False if the request failed."""
        if not items:
            return True
        status, answer = self._post(url, items)
        if status == 413:
            if len(items) == 1:
                result.dead.append((items[0].index, "elasticsearch: 413 request entity too large for one event"))
                self.stats["events_dead"] += 1
                return True
            self.stats["batch_splits"] += 1
            half = len(items) // 2
            if not self._send(url, items[:half], result):
                result.retry.extend(item.index for item in items[half:])
                return False
            return self._send(url, items[half:], result)
        if status == 200 and self._collect(items, answer, result):
            return True
        result.retry.extend(item.index for item in items)
        return False

    def _post(self, url: str, items: list[_Item]) -> tuple[int | None, Any]:
        body = b"".join(item.action + b"\n" + item.source + b"\n" for item in items)
        headers = {"Content-Type": "application/x-ndjson"}
        level = self.config.get("compression_level", 1)
        if level:
            body = gzip.compress(body, compresslevel=level)
            headers["Content-Encoding"] = "gzip"
        params = {**(self.config.get("parameters") or {}), "filter_path": _FILTER_PATH}
        try:
            answer = self.session.post(f"{url}/_bulk", data=body, headers=headers, params=params,
                                       timeout=self.config.get("timeout") or None)
        except requests.RequestException as exc:
            self.stats["connect_errors" if _never_connected(exc) else "read_errors"] += 1
            self.last_error = f"{url}: {exc}"
            self._failed(url)
            return None, None
        self.stats["bytes_written"] += len(body)
        if answer.status_code != 200:
            if answer.status_code != 413:
                self.stats["bulk_errors"] += 1
                self.last_error = f"{url}: bulk answered {answer.status_code}: {answer.text[:500]}"
            return answer.status_code, None
        try:
            return 200, answer.json()
        except ValueError:
            self.stats["bulk_errors"] += 1
            self.last_error = f"{url}: bulk answer is not JSON"
            return None, None

    def _collect(self, items: list[_Item], answer: Any, result: BatchResult) -> bool:
        entries = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(answer, dict):
            self.last_error = "bulk answer is not an object"
            return False
        if entries is None and not answer.get("errors"):
            return True  # filter_path drops nothing when all went well, but an answer of {} is all OK
        if not isinstance(entries, list) or len(entries) != len(items):
            self.last_error = f"bulk answer has {len(entries or [])} items for {len(items)} actions"
            return False
        for item, entry in zip(items, entries, strict=True):
            body: Any = next(iter(entry.values()), {}) if isinstance(entry, dict) and entry else {}
            status = body.get("status", 0) if isinstance(body, dict) else 0
            if 200 <= status < 300:
                continue
            if status == 409:
                result.duplicates += 1
                self.stats["events_duplicates"] += 1
            elif status == 429 or status >= 500 or status == 0:
                result.retry.append(item.index)
                self.stats["events_too_many"] += status == 429
            else:
                error = body.get("error") or {}
                reason = (f"{status} {error.get('type', '')}: {error.get('reason', '')}"
                          if isinstance(error, dict) else f"{status} {error}")
                result.dead.append((item.index, f"elasticsearch: {reason}"))
                self.stats["events_dead"] += 1
        return True
