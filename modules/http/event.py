"""The `http` event fields (the only place naming them), in Packetbeat's shape.

Empty values are left out, as Packetbeat's struct marshalling does, except the header maps, which always
carry `content-length` (and `content-type` when sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import Transaction

from .body import keeps_body, sniff_mime_type
from .messages import Headers, HttpRequest, HttpResponse
from .settings import HttpConfig
from .url import basic_auth_user, encode_params, extension, full_url, is_ip, split_host, split_target

REDACTED = "REDACTED"
_AUTH_HEADERS = ("authorization", "proxy-authorization")
_RAW_AUTH = re.compile(rb"(?im)^((?:proxy-)?authorization:)([^\r\n]*)")


HostFacts = Callable[[str], tuple[str, int, bool]]


def host_facts(header: str) -> tuple[str, int, bool]:
    """`split_host` of a Host header, and whether the host is an IP address (the module keeps the
    answers for the hosts that recur: `host_cache_size`)."""
    host, port = split_host(header)
    return host, port, bool(host) and is_ip(host)


class EventBuilder:
    __slots__ = ("_config", "_sends_headers", "_host_facts")

    def __init__(self, config: HttpConfig, facts: HostFacts = host_facts) -> None:
        self._config = config
        self._sends_headers = config.sends_headers
        self._host_facts = facts

    def fields(self, txn: Transaction[HttpRequest, HttpResponse]) -> dict[str, Any]:
        request, response = txn.request, txn.response
        http: dict[str, Any] = {}
        out: dict[str, Any] = {"http": http}
        hosts: list[str] = []
        users: list[str] = []
        extra_ips: list[str] = []
        if request is not None:
            self._request_fields(request, _combined(request.headers), txn.connection.server.port, out, hosts, users,
                                 extra_ips)
        if response is not None:
            headers = _combined(response.headers)
            http.setdefault("version", response.version)
            http["response"] = self._response_fields(response, headers)
            if self._config.send_response:
                out["response"] = _raw(response.raw_headers, self._sent_body(response, headers))
        related: dict[str, Any] = {}
        if hosts:
            related["hosts"] = _unique(hosts)
        if users:
            related["user"] = users
        if extra_ips:
            conn = txn.connection
            related["ip"] = _unique(sorted({conn.client.ip, conn.server.ip}) + extra_ips)
        if related:
            out["related"] = related
        messages = getattr(txn, "error_messages", ())
        if len(messages) > 1:
            out["error"] = {"message": list(messages)}  # as Packetbeat: a list once there are several
        return out

    # --- request ----------------------------------------------------------------------------------
    def _request_fields(self, request: HttpRequest, headers: dict[str, str], server_port: int, out: dict[str, Any],
                        hosts: list[str], users: list[str], extra_ips: list[str]) -> None:
        config = self._config
        host, host_port, host_is_ip = self._host_facts(headers.get("host") or "")
        if host and not host_is_ip:
            out["destination"] = {"domain": host}
            out["server"] = {"domain": host}
            hosts.append(host)
        elif host:
            extra_ips.append(host)
        port = host_port or server_port

        path, raw_query = split_target(request.target)
        content_type = headers.get("content-type") or ""
        form = None
        if request.body is not None and request.body_bytes and "urlencoded" in content_type:
            form = request.body.decode("utf-8", "replace")
        params = encode_params(raw_query, form, config.hide_keywords) if raw_query or form else ""

        http = out["http"]
        http["version"] = request.version
        fields: dict[str, Any] = {"method": request.method, "bytes": request.size}
        body = self._sent_body(request, headers) if request.body else None
        if request.body_bytes:
            _body_fields(fields, request.body_bytes, body, request.body)
        referrer = headers.get("referer")
        if referrer:
            fields["referrer"] = referrer
            referrer_host = _host_of(referrer)
            if referrer_host:
                hosts.append(referrer_host)
        fields["headers"] = self._headers(headers, request.body_bytes, is_request=True)
        http["request"] = fields

        url: dict[str, Any] = {"scheme": "http"}
        if host:
            url["domain"] = host
        if path:
            url["path"] = path
        if params:
            url["query"] = params
        if port != 80:
            url["port"] = port
        if "." in path:
            _put(url, "extension", extension(path))
        _put(url, "full", full_url(host, port, path, params))
        out["url"] = url

        user_agent = headers.get("user-agent")
        if user_agent:
            out["user_agent"] = {"original": user_agent}
        out["method"] = request.method
        out["query"] = f"{request.method} {path}"
        if not config.redact_authorization and "authorization" in headers:
            user = basic_auth_user(headers["authorization"])
            if user:
                out["user"] = {"name": user}
                users.append(user)
        real_ip = self._real_ip(headers) if config.real_ip_header else ""
        if real_ip:
            out["network"] = {"forwarded_ip": real_ip}
            extra_ips.append(real_ip)
        if config.send_request:
            raw_head = request.raw_headers
            if config.redact_authorization:
                raw_head = _RAW_AUTH.sub(lambda m: m.group(1) + b"*" * len(m.group(2)), raw_head)
            out["request"] = _raw(raw_head, body)

    def _real_ip(self, headers: dict[str, str]) -> str:
        name = self._config.real_ip_header
        if not name:
            return ""
        value = headers.get(name)
        return value.split(",", 1)[0].strip() if value else ""

    # --- response ---------------------------------------------------------------------------------
    def _response_fields(self, response: HttpResponse, headers: dict[str, str]) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "status_code": response.status_code,
            "bytes": response.size,
        }
        if response.status_phrase:
            fields["status_phrase"] = response.status_phrase.lower()
        if response.body_bytes:
            sent = self._sent_body(response, headers) if response.body else None
            _body_fields(fields, response.body_bytes, sent, response.body)
        fields["headers"] = self._headers(headers, response.body_bytes, is_request=False)
        return fields

    # --- shared -----------------------------------------------------------------------------------
    def _sent_body(self, message: HttpRequest | HttpResponse, headers: dict[str, str]) -> bytes | None:
        """The body when its content type is one the config asks to include (not merely kept)."""
        if not message.body:
            return None
        patterns = (self._config.include_request_body_for if isinstance(message, HttpRequest)
                    else self._config.include_response_body_for)
        return message.body if keeps_body(headers.get("content-type") or "", patterns) else None

    def _headers(self, combined: dict[str, str], body_bytes: int, is_request: bool) -> dict[str, Any]:
        """`http.*.headers` from `_combined` headers."""
        config = self._config
        # The declared length (a HEAD response's says what GET would send); else what was read.
        declared = combined.get("content-length", "")
        length = int(declared) if declared.isdigit() and "transfer-encoding" not in combined else body_bytes
        out: dict[str, Any] = {"content-length": length}
        if "content-type" in combined:
            out["content-type"] = combined["content-type"]
        if not self._sends_headers:
            return out
        cookie = "cookie" if is_request else "set-cookie"
        for name, value in combined.items():
            if name in ("content-length", "content-type"):
                continue
            if not config.send_all_headers and name not in config.send_headers:
                continue
            if name in config.redact_headers:
                out[name] = REDACTED
            elif is_request and config.redact_authorization and name in _AUTH_HEADERS:
                out[name] = "*"
            elif config.split_cookie and name == cookie:
                out[name] = split_cookies(value)
            else:
                out[name] = value
        return out


def _combined(headers: Headers) -> dict[str, str]:
    """Each header name once, in first-seen order, with repeated values joined (as `HttpRequest.header`)."""
    combined = dict(headers)
    if len(combined) == len(headers):  # no name repeated
        return combined
    combined = {}
    for name, value in headers:
        combined[name] = f"{combined[name]}, {value}" if name in combined else value
    return combined


def split_cookies(value: str) -> dict[str, str]:
    cookies = {}
    for item in value.split(";"):
        name, eq, val = item.partition("=")
        if eq:
            val = val.strip()
            if len(val) > 1 and val[0] == '"' and val[-1] == '"':
                val = val[1:-1]
            cookies[name.strip().lower()] = val
    return cookies


def _body_fields(fields: dict[str, Any], body_bytes: int, sent: bytes | None, kept: bytes | None) -> None:
    body: dict[str, Any] = {}
    if sent:
        body["bytes"] = len(sent)
        body["content"] = sent.decode("utf-8", "replace")
    elif body_bytes:
        body["bytes"] = body_bytes
    if body:
        fields["body"] = body
    mime = sniff_mime_type(kept) if kept else None
    if mime:
        fields["mime_type"] = mime


def _raw(head: bytes, body: bytes | None) -> str:
    return (head + body if body else head).decode("utf-8", "replace")


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    host, _ = split_host(authority)
    return host


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value:
        target[key] = value


def _unique(items: list[str]) -> list[str]:
    return items if len(items) < 2 else list(dict.fromkeys(items))
