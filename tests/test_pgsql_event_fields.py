"""pgsql event fields: Packetbeat's CSV `response` (Go's encoding/csv rules), and the `-d pgsql` line."""

from __future__ import annotations

import pgsql_wire as w
from packetshipper.modules.pgsql.csvdump import dump_csv
from packetshipper.modules.pgsql.event import event_fields
from packetshipper.modules.pgsql.module import PgsqlModule
from packetshipper.modules.pgsql.settings import PgsqlConfig
from test_pgsql_correlator import logged_in


def test_csv_follows_go_encoding_csv() -> None:
    # encoding/csv quotes a field holding a comma, a quote, CR or LF, one starting with a space, and `\.`;
    # Packetbeat first turns line breaks into the two characters \n and \r.
    rows = [["plain", "a,b", 'say "hi"', " lead", "", "\\.", "two\nlines", "cr\rhere"]]
    assert dump_csv(["c1", "c\n2"], rows) == (
        'c1,c\\n2\n'
        'plain,"a,b","say ""hi"""," lead",,"\\.",two\\nlines,cr\\rhere\n')
    assert dump_csv([], []) == ""


def test_error_and_startup_fields() -> None:
    s = logged_in()
    s.client(w.query("SELECT * FROM nope"))
    (txn,) = s.server(w.error("42P01", 'relation "nope" does not exist') + w.ready())
    fields = event_fields(txn, PgsqlConfig.from_mapping({"send_request": True}))
    assert fields == {
        "method": "SELECT", "query": "SELECT * FROM nope", "request": "SELECT * FROM nope",
        "user": {"name": "alice"}, "related": {"user": ["alice"]},
        "pgsql": {"database": "shop", "num_rows": 0, "num_fields": 0, "error_code": "42P01",
                  "error_message": 'relation "nope" does not exist', "error_severity": "ERROR"},
    }


def test_debug_description() -> None:
    module = PgsqlModule({"type": "pgsql"})
    s = logged_in()
    s.client(w.query("SELECT 1"))
    (ok,) = s.server(w.select_result(["a"], [["1"], ["2"]]) + w.ready())
    assert module.describe(ok) == "SELECT SELECT 1 -> SELECT 2, 2 rows"
    s.client(w.query("SELEC"))
    (failed,) = s.server(w.error("42601", "syntax error") + w.ready())
    assert module.describe(failed) == "SELEC SELEC -> ERROR 42601 syntax error"
    (unanswered,) = s.client(w.query("SELECT 3")) or s.correlator.close(s.ts)
    assert module.describe(unanswered) == "SELECT SELECT 3 -> (no response)"
