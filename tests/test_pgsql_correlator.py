"""Pairing pgsql statements with their results: cycles, errors, logins, unmatched halves, limits."""

from __future__ import annotations

from typing import Any

import pgsql_wire as w
from packetshipper.modules.pgsql.correlator import LOGIN, PgsqlCorrelator
from packetshipper.modules.pgsql.parser import BackendParser, FrontendParser, Negotiation
from packetshipper.modules.pgsql.settings import PgsqlConfig
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Direction,
    Endpoint,
    Status,
)

CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 5432))


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


class Session:
    """Both parsers and the correlator of one connection, fed wire bytes in capture order."""

    def __init__(self, **options: Any) -> None:
        config = PgsqlConfig.from_mapping(options)
        self.counts = Counts()
        negotiation = Negotiation()
        self.parsers = {Direction.REQUEST: FrontendParser(config, negotiation, self.counts),
                        Direction.RESPONSE: BackendParser(config, negotiation, self.counts)}
        self.correlator = PgsqlCorrelator(CONN, config, 10.0, self.counts)
        self.ts = 100.0

    def send(self, direction: Direction, data: bytes) -> list[Any]:
        self.ts += 0.01
        out: list[Any] = []
        for message in self.parsers[direction].receive_data(data, self.ts):
            out += self.correlator.on_message(direction, message, self.ts)
        return out

    def client(self, data: bytes) -> list[Any]:
        return self.send(Direction.REQUEST, data)

    def server(self, data: bytes) -> list[Any]:
        return self.send(Direction.RESPONSE, data)


def logged_in(**options: Any) -> Session:
    s = Session(**options)
    assert s.client(w.startup(user="alice", database="shop")) == []
    assert s.server(w.login_ok()) == []
    return s


def test_successful_login_is_no_event_and_its_user_goes_on_later_events() -> None:
    s = logged_in()
    assert s.counts["logins"] == 1
    assert s.client(w.query("SELECT 1")) == []
    (txn,) = s.server(w.select_result(["?column?"], [["1"]]) + w.ready())
    assert txn.status is Status.OK and txn.request.method == "SELECT"
    assert (txn.request.user, txn.request.database) == ("alice", "shop")
    assert txn.start < txn.end


def test_failed_login_is_an_error_event() -> None:
    s = Session()
    s.client(w.startup(user="bob"))
    s.server(w.auth(10, b"SCRAM-SHA-256\x00\x00"))
    s.client(w.password("wrong"))
    (txn,) = s.server(w.error("28P01", 'password authentication failed for user "bob"', severity="FATAL"))
    assert txn.request.method == LOGIN and txn.status is Status.ERROR
    assert txn.response.error.code == "28P01"
    assert txn.request.database == "bob"  # the server's default database is the user's name
    assert txn.request_bytes == len(w.startup(user="bob")) + len(w.password("wrong"))


def test_several_statements_in_one_query_are_one_transaction_each() -> None:
    s = logged_in()
    sql = "INSERT INTO t VALUES (1, ';'); SELECT 2; DELETE FROM t"
    s.client(w.query(sql))
    got = s.server(w.command_complete("INSERT 0 1") + w.select_result(["n"], [["2"]])
                   + w.command_complete("DELETE 1") + w.ready())
    assert [t.request.query for t in got] == ["INSERT INTO t VALUES (1, ';')", "SELECT 2", "DELETE FROM t"]
    assert [t.request.method for t in got] == ["INSERT", "SELECT", "DELETE"]
    assert all(t.request_bytes == len(w.query(sql)) for t in got)  # Packetbeat: the whole message each


def test_error_ends_a_multi_statement_query_and_the_rest_is_skipped() -> None:
    s = logged_in()
    s.client(w.query("SELECT 1; SELEC 2; SELECT 3"))
    got = s.server(w.select_result(["a"], [["1"]]) + w.error("42601", "syntax error") + w.ready("I"))
    assert [(t.request.query, t.status) for t in got] == [("SELECT 1", Status.OK), ("SELEC 2", Status.ERROR)]
    assert s.counts["statements_skipped_after_error"] == 1
    s.client(w.query("SELECT 4"))  # the next cycle pairs normally
    (txn,) = s.server(w.select_result(["a"], [["4"]]) + w.ready())
    assert txn.request.query == "SELECT 4"


def test_extended_statement_text_is_carried_from_parse_to_each_execute() -> None:
    s = logged_in()
    s.client(w.parse("SELECT * FROM t WHERE id = $1", name="by_id") + w.sync())
    assert s.server(w.parse_complete() + w.ready()) == []
    for value in (b"1", b"2"):
        s.client(w.bind([value], statement="by_id") + w.execute() + w.sync())
        (txn,) = s.server(w.bind_complete() + w.data_row("x") + w.command_complete("SELECT 1") + w.ready())
        assert txn.request.query == "SELECT * FROM t WHERE id = $1"
        assert txn.request_bytes == len(w.bind([value], statement="by_id") + w.execute() + w.sync())
    assert s.counts["prepared_without_execute"] == 1


def test_parse_error_in_the_extended_protocol_is_an_error_event_for_the_execute() -> None:
    s = logged_in()
    s.client(w.parse("SELECT nope") + w.bind() + w.execute() + w.parse("SELECT 2") + w.bind() + w.execute()
             + w.sync())
    (txn,) = s.server(w.error("42703", 'column "nope" does not exist') + w.ready())
    assert txn.request.query == "SELECT nope" and txn.status is Status.ERROR
    assert s.counts["statements_skipped_after_error"] == 1


def test_set_statements_sent_with_parse_are_left_out_like_packetbeat() -> None:
    s = logged_in()
    s.client(w.parse("SET extra_float_digits = 3") + w.bind() + w.execute() + w.sync())
    assert s.server(w.parse_complete() + w.bind_complete() + w.command_complete("SET") + w.ready()) == []
    assert s.counts["hidden_statements"] == 1


def test_notices_become_notes_of_their_statement() -> None:
    s = logged_in()
    s.client(w.query("DROP TABLE IF EXISTS x"))
    (txn,) = s.server(w.notice("00000", 'table "x" does not exist, skipping') + w.command_complete("DROP TABLE")
                      + w.ready())
    assert txn.notes == ('NOTICE 00000: table "x" does not exist, skipping',)
    assert txn.status is Status.OK and txn.error is None


def test_copy_in_adds_the_client_data_to_the_statement() -> None:
    s = logged_in()
    s.client(w.query("COPY t FROM STDIN"))
    s.server(w.copy_in_response())
    data = w.copy_data(b"1\n") + w.copy_data(b"2\n") + w.copy_done()
    s.client(data)
    (txn,) = s.server(w.command_complete("COPY 2") + w.ready())
    assert txn.request_bytes == len(w.query("COPY t FROM STDIN")) + len(data)
    assert txn.response.tag == "COPY 2"


def test_response_without_any_request_is_unmatched() -> None:
    s = Session()  # the capture began after the startup
    (txn,) = s.server(w.command_complete("UPDATE 3"))
    assert txn.request is None and txn.status is Status.ERROR and txn.error == UNMATCHED_RESPONSE


def test_unanswered_statements_expire_when_the_connection_is_idle_and_on_close() -> None:
    s = logged_in()
    s.client(w.query("SELECT pg_sleep(100)"))
    assert s.correlator.expire(s.ts + 5) == []
    (txn,) = s.correlator.expire(s.ts + 11)
    assert txn.error == UNMATCHED_REQUEST and txn.response is None
    s.client(w.query("SELECT 2"))
    (closed,) = s.correlator.close(s.ts + 1)
    assert closed.request.query == "SELECT 2" and closed.error == UNMATCHED_REQUEST


def test_pending_statements_are_bounded_and_the_overflow_is_published_and_counted() -> None:
    s = logged_in(max_pending_requests=3)
    published = []
    for i in range(10):
        published += s.client(w.query(f"SELECT {i}"))
    assert [t.request.query for t in published] == [f"SELECT {i}" for i in range(7)]
    assert all(t.error == UNMATCHED_REQUEST for t in published)
    assert s.counts["pending_requests_overflow"] == 7
    assert len(s.correlator._cycles) == 3  # noqa: SLF001


def test_prepared_statements_are_bounded() -> None:
    s = logged_in(max_prepared_statements=2)
    for name in ("a", "b", "c"):
        s.client(w.parse(f"SELECT '{name}'", name=name) + w.sync())
        s.server(w.parse_complete() + w.ready())
    assert s.counts["prepared_statements_forgotten"] == 1
    s.client(w.bind(statement="a") + w.execute() + w.sync())  # "a" was forgotten
    (txn,) = s.server(w.bind_complete() + w.command_complete("SELECT 1") + w.ready())
    assert txn.request.query is None and "its text is unknown" in (txn.error or "")
    assert s.counts["unknown_statements"] == 1


def test_pipelined_executes_in_one_sync_cycle_each_get_their_result() -> None:
    s = logged_in()
    units = [w.parse(f"INSERT INTO t VALUES ({i})") + w.bind() + w.execute() for i in range(3)]
    s.client(b"".join(units) + w.sync())
    got = s.server((w.parse_complete() + w.bind_complete() + w.command_complete("INSERT 0 1")) * 3 + w.ready())
    assert [t.request.query for t in got] == [f"INSERT INTO t VALUES ({i})" for i in range(3)]
    assert [t.request_bytes for t in got] == [len(units[0]), len(units[1]), len(units[2]) + len(w.sync())]


def test_results_before_the_sync_with_flush() -> None:
    s = logged_in()
    s.client(w.parse("SELECT 1") + w.bind() + w.execute() + w.flush())
    (txn,) = s.server(w.parse_complete() + w.bind_complete() + w.data_row("1") + w.command_complete("SELECT 1"))
    assert txn.request.query == "SELECT 1" and txn.response.num_rows == 1
    assert s.client(w.sync()) == []
    assert s.server(w.ready()) == []
    s.client(w.query("SELECT 2"))
    (after,) = s.server(w.select_result(["n"], [["2"]]) + w.ready())
    assert after.request.query == "SELECT 2"


def test_notices_per_statement_are_bounded() -> None:
    s = logged_in(max_notices=2)
    s.client(w.query("DO $$ BEGIN FOR i IN 1..5 LOOP RAISE NOTICE 'n%', i; END LOOP; END $$"))
    notices = b"".join(w.notice("00000", f"n{i}") for i in range(1, 6))
    (txn,) = s.server(notices + w.command_complete("DO") + w.ready())
    assert txn.notes == ("NOTICE 00000: n1", "NOTICE 00000: n2")
    assert s.counts["notices_dropped"] == 3
    assert txn.response_bytes == len(notices) + len(w.command_complete("DO"))
    assert txn.request.query.startswith("DO $$") and txn.request.method == "DO"


def test_result_cut_by_the_server_closing_is_an_error_with_what_arrived() -> None:
    s = logged_in(send_response=True)
    s.client(w.query("SELECT * FROM t"))
    assert s.server(w.row_description("a") + w.data_row("1") + w.data_row("2")) == []
    (result,) = s.parsers[Direction.RESPONSE].receive_eof(s.ts)
    (txn,) = s.correlator.on_message(Direction.RESPONSE, result, s.ts)
    assert txn.status is Status.ERROR and txn.response.num_rows == 2 and txn.response.rows == (("1",), ("2",))
    assert txn.error == "Connection closed while the result was arriving"
    assert s.counts["results_cut_by_close"] == 1
