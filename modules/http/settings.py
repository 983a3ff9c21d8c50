"""The `http` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

# Packetbeat's tcp.TCPMaxDataInStream: 10 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_PENDING_REQUESTS = 100
DEFAULT_HOST_CACHE_SIZE = 4096

SETTINGS: Spec = {
    "send_headers": Setting(s.string_list, [], "header names to include under http.*.headers"),
    "send_all_headers": Setting(s.boolean, False, "include every header under http.*.headers"),
    "split_cookie": Setting(s.boolean, False, "split Cookie / Set-Cookie into a name -> value map"),
    "real_ip_header": Setting(s.string, "", "header carrying the client's real IP (network.forwarded_ip)"),
    "include_body_for": Setting(s.string_list, [], "content types whose bodies are kept (both directions)"),
    "include_request_body_for": Setting(s.string_list, [], "content types whose request bodies are kept"),
    "include_response_body_for": Setting(s.string_list, [], "content types whose response bodies are kept"),
    "hide_keywords": Setting(s.string_list, [], "query/form parameters whose values are replaced by xxxxx"),
    "redact_authorization": Setting(s.boolean, False, "mask Authorization / Proxy-Authorization values"),
    "redact_headers": Setting(s.string_list, [], "headers whose values are replaced by REDACTED"),
    "max_message_size": Setting(
        s.at_least(1, s.size), DEFAULT_MAX_MESSAGE_SIZE, "largest header block / kept body, in bytes"
    ),
    "decode_body": Setting(s.boolean, True, "gunzip / inflate kept bodies per Content-Encoding"),
    "max_pending_requests": Setting(
        s.at_least(1), DEFAULT_MAX_PENDING_REQUESTS, "pipelined requests kept per connection awaiting a response"
    ),
    "host_cache_size": Setting(
        s.at_least(0), DEFAULT_HOST_CACHE_SIZE,
        "Host headers whose parsed host, port and IP-ness are kept (a few thousand hosts recur); past it the "
        "least recently used goes, counted in /stats (protocols.modules.http.host_cache_evicted); 0: none kept"
    ),
}


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The validated settings in the shape the parser, correlator and event builder use."""

    send_headers: frozenset[str]
    send_all_headers: bool
    split_cookie: bool
    real_ip_header: str
    include_request_body_for: tuple[str, ...]
    include_response_body_for: tuple[str, ...]
    hide_keywords: frozenset[str]
    redact_authorization: bool
    redact_headers: frozenset[str]
    max_message_size: int
    decode_body: bool
    max_pending_requests: int
    host_cache_size: int
    send_request: bool
    send_response: bool
    transaction_timeout: float

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> HttpConfig:
        get = configured(SETTINGS, config)

        both = tuple(get("include_body_for"))
        return cls(
            send_headers=frozenset(h.lower() for h in get("send_headers")),
            send_all_headers=bool(get("send_all_headers")),
            split_cookie=bool(get("split_cookie")),
            real_ip_header=str(get("real_ip_header")).lower(),
            include_request_body_for=both + tuple(get("include_request_body_for")),
            include_response_body_for=both + tuple(get("include_response_body_for")),
            hide_keywords=frozenset(k.lower() for k in get("hide_keywords")),
            redact_authorization=bool(get("redact_authorization")),
            redact_headers=frozenset(h.lower() for h in get("redact_headers")),
            max_message_size=int(get("max_message_size")),
            decode_body=bool(get("decode_body")),
            max_pending_requests=int(get("max_pending_requests")),
            host_cache_size=int(get("host_cache_size")),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
            transaction_timeout=float(config.get("transaction_timeout", 10.0)),
        )

    @property
    def sends_headers(self) -> bool:
        return self.send_all_headers or bool(self.send_headers)
