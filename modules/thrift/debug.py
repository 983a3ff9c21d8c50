"""What `-d thrift` says: why each counted anomaly happened (the transaction line says the rest)."""

from __future__ import annotations

from packetshipper.debuglog import debug_log

__all__ = ["DEBUG", "REASONS"]

DEBUG = debug_log("thrift")

REASONS = {
    "oversized_messages": "message over max_message_size: the direction resyncs",
    "assumed_oneway": "a call without reply before an answered one: published as oneway, as Packetbeat does",
    "pending_requests_overflow": "more calls in flight than max_pending_requests: the oldest is published "
                                 "unanswered",
    "unmatched_requests": "",
    "unmatched_responses": "",
}
