"""The `pgsql` module's config keys (beyond COMMON_SETTINGS), with Packetbeat's defaults where it has them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packetshipper import settings as s
from packetshipper.settings import Setting, Spec, configured

__all__ = ["SETTINGS", "PgsqlConfig"]

SETTINGS: Spec = {
    "max_rows": Setting(s.at_least(0), 10, "rows of a result kept for `response` (the rest are counted)"),
    "max_row_length": Setting(s.at_least(0), 1024, "bytes of a row kept for `response`; later columns are left out"),
    "max_message_size": Setting(
        s.at_least(64, s.size), 10 << 20,
        "largest protocol message buffered whole; longer ones are skipped (pgsql.oversized_messages)"),
    "max_pending_requests": Setting(
        s.at_least(1), 1000,
        "statements waiting for their result per connection; over this the oldest is published unanswered "
        "(pgsql.pending_requests_overflow)"),
    "max_notices": Setting(
        s.at_least(0), 10,
        "NoticeResponses kept per statement as `notes`; later ones are counted (pgsql.notices_dropped)"),
    "max_prepared_statements": Setting(
        s.at_least(1), 1000,
        "named prepared statements and portals remembered per connection for their Execute "
        "(pgsql.prepared_statements_forgotten)"),
}


@dataclass(frozen=True, slots=True)
class PgsqlConfig:
    max_rows: int
    max_row_length: int
    max_message_size: int
    max_pending_requests: int
    max_prepared_statements: int
    max_notices: int
    send_request: bool
    send_response: bool

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> PgsqlConfig:
        get = configured(SETTINGS, config)

        return cls(
            max_rows=int(get("max_rows")),
            max_row_length=int(get("max_row_length")),
            max_message_size=int(get("max_message_size")),
            max_pending_requests=int(get("max_pending_requests")),
            max_prepared_statements=int(get("max_prepared_statements")),
            max_notices=int(get("max_notices")),
            send_request=bool(config.get("send_request", False)),
            send_response=bool(config.get("send_response", False)),
        )
