"""Bounded memory: 100,000 requests that never get a reply, and a 50 MB reply, stay within the configured
limits; the counters say what was dropped."""

from __future__ import annotations

import tracemalloc

import mongodb_wire as w
import pytest
from test_mongodb_correlator import Session


@pytest.mark.slow
def test_100000_unanswered_requests_keep_at_most_max_pending_requests() -> None:
    s = Session(max_pending_requests=100)
    published = 0
    tracemalloc.start()
    try:
        for batch in range(100):
            wire = b"".join(w.op_msg({"find": "c", "filter": {"i": i}, "$db": "d"}, request_id=batch * 1000 + i)
                            for i in range(1000))
            published += len(s.client(wire))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(s.correlator._pending) == 100  # noqa: SLF001
    assert published == 100_000 - 100
    assert s.counts["pending_requests_overflow"] == 100_000 - 100
    assert peak < 16 << 20, peak
    assert len(s.correlator.close(s.ts)) == 100


def test_50_mb_reply_is_skipped_unread_and_still_pairs() -> None:
    s = Session(max_message_size=16 << 20, send_response=True)
    s.client(w.op_query("d.big", {}, request_id=42))
    documents = [{"i": i, "blob": "z" * 10_000} for i in range(5_000)]  # 5,000 x 10 kB: 50 MB
    reply = w.op_reply(documents, response_to=42)
    assert len(reply) > 50_000_000
    tracemalloc.start()
    try:
        out = []
        for i in range(0, len(reply), 65536):
            out += s.server(reply[i : i + 65536])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (txn,) = out
    assert txn.request.resource == "d.big" and txn.response_bytes == len(reply)
    assert txn.response.documents == () and "over max_message_size" in (txn.error or "")
    assert s.counts["oversized_messages"] == 1
    assert peak < 4 << 20, peak
