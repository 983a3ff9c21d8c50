"""The `mongodb` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults where it has them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

from .wire import MAX_MESSAGE

__all__ = ["SETTINGS", "MongoConfig"]

SETTINGS: Spec = {
    "max_docs": Setting(s.at_least(0), 10, "documents of a reply shown in `response` (0: all); then `[...]`"),
    "max_doc_length": Setting(s.at_least(0), 5000,
                              "characters of each document shown in `response` (0: no limit); then ` ...`"),
    "max_message_size": Setting(
        s.at_least(64, s.size, maximum=MAX_MESSAGE), 10 << 20,
        "largest wire message read whole; longer ones are skipped unread (mongodb.oversized_messages)"),
    "max_pending_requests": Setting(
        s.at_least(1), 1000,
        "requests waiting for their reply per connection; over this the oldest is published unanswered "
        "(mongodb.pending_requests_overflow)"),
}


@dataclass(frozen=True, slots=True)
class MongoConfig:
    max_docs: int
    max_doc_length: int
    max_message_size: int
    max_pending_requests: int
    send_request: bool
    send_response: bool

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> MongoConfig:
        get = configured(SETTINGS, config)

        return cls(
            max_docs=int(get("max_docs")),
            max_doc_length=int(get("max_doc_length")),
            max_message_size=int(get("max_message_size")),
            max_pending_requests=int(get("max_pending_requests")),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
        )
