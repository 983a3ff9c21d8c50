"""Bounded memory: 100,000 statements that never get an answer, and a 50 MB result, stay within the
configured limits, and the counters say what was dropped."""

from __future__ import annotations

import tracemalloc

import pgsql_wire as w
import pytest
from test_pgsql_correlator import Session


@pytest.mark.slow
def test_100000_unanswered_statements_keep_at_most_max_pending_requests() -> None:
    s = Session(max_pending_requests=100)
    s.client(w.startup(user="u"))
    s.server(w.login_ok())
    published = 0
    batch = b"".join(w.query(f"SELECT {i}") for i in range(1000))
    tracemalloc.start()
    try:
        for _ in range(100):
            published += len(s.client(batch))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(s.correlator._cycles) == 100  # noqa: SLF001
    assert published == 100_000 - 100
    assert s.counts["pending_requests_overflow"] == 100_000 - 100
    assert s.counts["unmatched_requests"] == 100_000 - 100
    assert peak < 8 << 20, peak
    assert len(s.correlator.close(s.ts)) == 100


def test_50_mb_result_is_counted_not_kept() -> None:
    s = Session(max_rows=10, max_row_length=1024, max_message_size=1 << 20, send_response=True)
    s.client(w.startup(user="u"))
    s.server(w.login_ok())
    s.client(w.query("SELECT * FROM big"))
    row = w.data_row("r" * 5000, "s" * 5000)
    rows = 5000  # 5000 rows of 10 kB: 50 MB
    giant = w.data_row("g" * (2 << 20))  # one row over max_message_size: skipped as it streams
    chunk = row * 100
    tracemalloc.start()
    try:
        assert s.server(w.row_description("a", "b")) == []
        for _ in range(rows // 100):
            for i in range(0, len(chunk), 65536):
                assert s.server(chunk[i : i + 65536]) == []
        for i in range(0, len(giant), 65536):
            assert s.server(giant[i : i + 65536]) == []
        (txn,) = s.server(w.command_complete(f"SELECT {rows + 1}") + w.ready())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert txn.response.num_rows == rows + 1
    assert len(txn.response.rows) == 10 and all(len("".join(r)) == 1024 for r in txn.response.rows)
    assert txn.response_bytes == len(w.row_description("a", "b")) + rows * len(row) + len(giant) + len(
        w.command_complete(f"SELECT {rows + 1}"))
    assert s.counts["oversized_messages"] == 1
    assert peak < 8 << 20, peak
