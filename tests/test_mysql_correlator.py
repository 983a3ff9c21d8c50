"""Commands paired with their responses, built from the protocol's meaning and run through the module:
result sets in both EOF dialects, errors, the connection phase, prepared statements, loss and limits."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from packetshipper.modules.mysql.wire import Capability, Command, FieldType
from packetshipper.settings import ConfigError
from test_mysql_wire import (
    CLASSIC,
    DEPRECATE,
    Session,
    column,
    command,
    eof,
    err,
    execute,
    greeting,
    lenenc_int,
    lenenc_str,
    login,
    ok,
    packet,
    prepare,
    prepare_ok,
    query,
    result_set,
    ssl_request,
    text_row,
)

ROWS = [["1", "apple"], ["2", None], ["3", "a,b"]]


def only(session: Session) -> dict:
    events = session.events()
    assert len(events) == 1, events
    return events[0]


def test_a_query_answered_by_ok_has_affected_rows_and_insert_id() -> None:
    event = only(Session().client(query("INSERT INTO t VALUES (1)")).server(ok(1, affected=1, insert_id=42)))
    assert (event["method"], event["query"], event["status"]) == ("INSERT", "INSERT INTO t VALUES (1)", "OK")
    assert event["mysql"].items() >= {"affected_rows": 1, "insert_id": 42, "num_rows": 0, "num_fields": 0}.items()
    assert event["mysql"]["command"] == "COM_QUERY"
    assert event["source"]["bytes"] == 4 + 25 and event["destination"]["bytes"] == 4 + 7


def test_result_sets_read_the_same_in_both_eof_dialects_without_a_handshake() -> None:
    for deprecate in (False, True):
        session = Session(send_response=True)
        session.client(query("SELECT id, name FROM fruit"))
        session.server(result_set(["id", "name"], ROWS, deprecate_eof=deprecate, table="fruit", schema="shop"))
        event = only(session)
        assert event["mysql"]["num_rows"] == 3 and event["mysql"]["num_fields"] == 2
        assert event["path"] == "shop.fruit"
        assert event["response"] == 'id,name\n1,apple\n2,NULL\n3,"a,b"\n'


def test_an_empty_result_set_in_the_deprecate_eof_dialect_ends_at_its_ok() -> None:
    session = Session().client(query("SELECT id FROM t WHERE 0"))
    session.server(result_set(["id"], [], deprecate_eof=True)).client(query("SELECT 1")).server(ok(1))
    events = session.events()
    assert [e["mysql"]["num_rows"] for e in events] == [0, 0]
    assert [e["query"] for e in events] == ["SELECT id FROM t WHERE 0", "SELECT 1"]


def test_the_handshake_decides_the_dialect() -> None:
    # Negotiated classic EOF: a 7-byte 0xFE packet after the columns is still read as the EOF marker.
    long_eof = packet(3, b"\xfe" + struct.pack("<HH", 0, 2) + b"\x00\x00")
    rows = text_row(4, ["x"]) + eof(5)
    for caps, expected in ((CLASSIC, 1), (DEPRECATE, 0)):
        session = Session().server(greeting(capabilities=caps)).client(login("bob", capabilities=caps)).server(ok(2))
        session.client(query("SELECT a FROM t")).server(packet(1, b"\x01") + column(2, "a") + long_eof + rows)
        event = only(session)
        assert event["mysql"]["num_rows"] == expected


def test_several_result_sets_in_one_response_are_one_transaction() -> None:
    more = 0x0A  # SERVER_MORE_RESULTS_EXISTS | autocommit
    server = result_set(["a"], [["1"], ["2"]], deprecate_eof=False, status=more)
    server += result_set(["b"], [["3"]], deprecate_eof=False, status=more, seq=7) + ok(12, status=2)
    event = only(Session().client(query("CALL two_results()")).server(server))
    assert event["mysql"]["num_rows"] == 3 and event["status"] == "OK"


def test_an_error_response_gives_code_and_state_message() -> None:
    event = only(Session().client(query("SELEC 1")).server(err(1, 1064, "42000", "You have an error")))
    assert event["status"] == "Error"
    assert event["mysql"]["error_code"] == 1064
    assert event["mysql"]["error_message"] == "42000: You have an error"
    assert event["event"]["outcome"] == "failure"


def test_a_failed_login_is_an_error_event_even_when_logins_are_not_published() -> None:
    session = Session().server(greeting()).client(login("bob", "shop"))
    session.server(err(2, 1045, "28000", "Access denied for user 'bob'@'localhost' (using password: YES)"))
    event = only(session)
    assert (event["method"], event["query"], event["status"]) == ("LOGIN", "LOGIN bob", "Error")
    assert event["user"]["name"] == "bob" and event["path"] == "shop"
    assert event["mysql"]["error_code"] == 1045
    assert event["mysql"]["error_message"].startswith("28000: Access denied for user 'bob'")
    assert session.module.stats["failed_logins"] == 1


def test_a_successful_login_names_the_user_of_later_commands() -> None:
    session = Session(commands=["CONNECT", "QUERY"]).server(greeting(version="8.0.36")).client(login("ann", "db1"))
    session.server(packet(2, b"\xfe" + b"caching_sha2_password\x00" + b"n" * 20))  # auth switch request
    session.client(packet(3, b"s" * 20)).server(ok(4)).client(query("SELECT 1")).server(ok(1))
    connect, select = session.events()
    assert (connect["method"], connect["status"], connect["mysql"]["server_version"]) == ("LOGIN", "OK", "8.0.36")
    assert connect["mysql"]["database"] == "db1"
    assert select["user"]["name"] == "ann" and select["related"]["user"] == ["ann"]


def test_a_tls_switch_is_counted_and_nothing_after_it_is_parsed() -> None:
    session = Session(commands=["*"]).server(greeting(capabilities=DEPRECATE | Capability.SSL))
    session.client(ssl_request()).client(b"\x16\x03\x01" + bytes(200)).server(b"\x16\x03\x03" + bytes(300))
    session.client(query("SELECT 1")).server(ok(1)).close()
    assert session.events() == []
    assert session.module.stats["tls_connections"] == 1


def test_a_prepared_statement_carries_its_text_and_bound_values_to_each_execute() -> None:
    for deprecate in (False, True):
        session = Session(commands=["*"])
        sql = "SELECT * FROM t WHERE a = ? AND b > ? AND c = ? AND d < ?"
        session.client(prepare(sql)).server(prepare_ok(7, ["a"], 4, deprecate))
        params = [(FieldType.VAR_STRING, lenenc_str("A1224638")), (FieldType.LONGLONG, struct.pack("<q", -5)),
                  (FieldType.DATETIME, bytes([7]) + struct.pack("<HBBBBB", 2017, 7, 28, 0, 0, 0)),
                  (FieldType.LONG, None)]
        session.client(execute(7, params)).server(ok(1))
        again = [(t, v) for t, v in params[:3]] + [(FieldType.LONG, struct.pack("<i", 9))]
        session.client(execute(7, again, bind=False)).server(ok(1))
        session.client(command(Command.STMT_CLOSE, struct.pack("<I", 7)))
        session.client(execute(7, params)).server(ok(1))
        prepared, first, second, closed, unknown = session.events()
        assert prepared["query"] == sql and prepared["mysql"]["command"] == "COM_STMT_PREPARE"
        assert (first["method"], first["query"]) == ("SELECT", sql)
        assert first["params"] == ["A1224638", "-5", "2017/7/28 0:0:0", "NULL"]
        assert second["params"] == ["A1224638", "-5", "2017/7/28 0:0:0", "9"]
        assert closed["mysql"]["command"] == "COM_STMT_CLOSE" and "destination" in closed
        assert unknown["query"] == "Request Execute Statement"
        assert unknown["error"]["message"] == "The actual query being used is unknown"


def test_a_binary_result_set_is_rendered_by_column_type() -> None:
    session = Session(send_response=True)
    session.client(prepare("SELECT id, price, name FROM t")).server(prepare_ok(1, ["id", "price", "name"], 0, True))
    header = packet(1, b"\x03")
    cols = (column(2, "id", field_type=FieldType.LONG, unsigned=True) + column(3, "price", field_type=FieldType.DOUBLE)
            + column(4, "name"))
    row = packet(5, b"\x00" + bytes([0b10000]) + struct.pack("<Id", 4000000000, 2.5))  # name is NULL
    session.client(execute(1)).server(header + cols + row + ok(6, header=0xFE))
    event = session.events()[1]
    assert event["mysql"]["num_rows"] == 1
    assert event["response"] == "id,price,name\n4000000000,2.5,NULL\n"


def test_cached_metadata_reuses_the_columns_of_the_prepare() -> None:
    ext = Capability.MARIADB_CACHE_METADATA
    session = Session(send_response=True).server(greeting(capabilities=DEPRECATE & ~Capability.CLIENT_MYSQL,
                                                          extended=ext))
    session.client(login("bob", capabilities=DEPRECATE & ~Capability.CLIENT_MYSQL, extended=ext)).server(ok(2))
    session.client(prepare("SELECT n FROM t")).server(prepare_ok(3, ["n"], 0, True))
    row = packet(2, b"\x00\x00" + lenenc_str("77"))  # the prepare described n as a string
    session.client(execute(3)).server(packet(1, b"\x01\x00") + row + ok(3, header=0xFE))  # metadata skipped
    assert session.events()[1]["response"] == "n\n77\n"


def test_unanswered_commands_are_published_as_unmatched_on_close_and_on_expiry() -> None:
    session = Session().client(query("SELECT SLEEP(100)")).close()
    event = only(session)
    assert (event["status"], event["error"]["message"]) == ("Error", "Unmatched request")
    expiring = Session(transaction_timeout="2s").client(query("SELECT 1"))
    assert expiring.correlator.expire(expiring.now + 1) == []
    assert [t.error for t in expiring.correlator.expire(expiring.now + 3)] == ["Unmatched request"]


def test_a_response_without_its_command_is_published_as_unmatched_and_stray_rows_are_skipped() -> None:
    session = Session().server(text_row(4, ["x"]) + eof(5)).server(err(1, 2006, "HY000", "gone away"))
    event = only(session)
    assert (event["status"], event["error"]["message"]) == ("Error", "Unmatched response")
    assert session.module.stats["skipped_packets"] == 2


def test_100000_unanswered_commands_stay_within_max_pending_requests() -> None:
    session = Session(max_pending_requests=50)
    wire = query("SELECT 1") * 1000
    for _ in range(90):
        session.client(wire)
        session.transactions.clear()  # what the core hands to the publisher
    tracemalloc.start()  # the last 10,000: memory does not grow with the number sent
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(10):
            session.client(wire)
            session.transactions.clear()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert session.module.stats["pending_requests_overflow"] == 100_000 - 50
    assert session.module.stats["unmatched_requests"] == 100_000 - 50
    assert len(session.correlator._pending) == 50
    assert after - before < 256 << 10 and peak - before < 4 << 20


def test_lost_rows_publish_what_was_read_with_a_note_and_the_next_command_pairs_again() -> None:
    rows = [[f"row {i}" * 20] for i in range(50)]
    answer = result_set(["a"], rows, deprecate_eof=False)
    session = Session().client(query("SELECT a FROM big")).server(answer[:2000]).gap(False, 1460)
    session.server(answer[3460:])  # the rest, resumed mid-row
    session.client(query("SELECT 2")).server(ok(1))
    first, second = session.events()
    assert first["status"] == "OK" and first["mysql"]["num_rows"] > 1
    assert first["error"]["message"] == "Packet loss while capturing the response"
    assert (second["query"], second["status"]) == ("SELECT 2", "OK")


def test_commands_without_sql_are_named_and_published_when_asked_for() -> None:
    session = Session(commands=["*"])
    session.client(command(Command.PING)).server(ok(1))
    session.client(command(Command.INIT_DB, b"shop")).server(ok(1))
    session.client(command(Command.STATISTICS)).server(packet(1, b"Uptime: 5  Threads: 1"))
    session.client(command(Command.QUIT)).close()
    events = session.events()
    assert [(e["method"], e["query"], e["status"]) for e in events] == [
        ("PING", "PING", "OK"), ("USE", "USE shop", "OK"), ("STATISTICS", "STATISTICS", "OK"), ("QUIT", "QUIT", "OK")]
    assert events[1]["path"] == "shop"
    default = Session().client(command(Command.PING)).server(ok(1)).client(command(Command.QUIT)).close()
    assert default.events() == []


def test_load_data_local_infile_is_one_transaction() -> None:
    session = Session().client(query("LOAD DATA LOCAL INFILE 'f.csv' INTO TABLE t"))
    session.server(packet(1, b"\xfbf.csv")).client(packet(2, b"1,a\n2,b\n") + packet(3, b""))
    event = only(session.server(ok(4, affected=2)))
    assert event["mysql"]["affected_rows"] == 2
    assert event["source"]["bytes"] == 4 + 44 + 12 + 4


def test_a_query_over_16_mib_is_read_whole() -> None:
    sql = "INSERT INTO t VALUES ('" + "v" * (17 << 20) + "')"
    event = only(Session(max_message_size="32MiB").client(query(sql), chunk=1 << 16).server(ok(2, affected=1)))
    assert event["query"] == sql and event["source"]["bytes"] == len(sql) + 1 + 8


def test_a_server_packet_out_of_sequence_is_not_taken_as_the_response() -> None:
    session = Session().client(query("SELECT 1")).server(ok(5)).server(ok(1, affected=3))
    event = only(session)
    assert event["mysql"]["affected_rows"] == 3
    assert session.module.stats["out_of_sequence_packets"] == 1


def test_a_column_count_above_250_is_length_encoded() -> None:
    names = [f"c{i}" for i in range(300)]
    server = packet(1, lenenc_int(300)) + b"".join(column(2 + i, n) for i, n in enumerate(names))
    server += packet(302, b"".join(lenenc_str(str(i)) for i in range(300))) + ok(303, header=0xFE)
    event = only(Session().client(query("SELECT * FROM wide")).server(server))
    assert event["mysql"]["num_fields"] == 300 and event["mysql"]["num_rows"] == 1


def test_a_prepare_with_parameters_only_ends_at_the_next_command_when_the_dialect_is_unknown() -> None:
    session = Session(commands=["*"]).client(prepare("DO ?")).server(prepare_ok(4, [], 1, deprecate_eof=True))
    session.client(query("SELECT 1")).server(ok(1))
    assert [(e["query"], e["status"]) for e in session.events()] == [("DO ?", "OK"), ("SELECT 1", "OK")]


def test_a_50_mb_result_set_keeps_memory_within_max_rows_and_max_message_size() -> None:
    session = Session(send_response=True, max_message_size="64KiB")
    session.client(query("SELECT blob FROM big"))
    session.server(packet(1, b"\x01") + column(2, "blob") + eof(3))
    row = text_row(4, ["b" * 49_990])  # 50,000-byte rows, a thousand of them
    seq_fixed = [row[:3] + bytes([(4 + i) & 0xFF]) + row[4:] for i in range(256)]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(1000):
            session.server(seq_fixed[i % 256], chunk=16_384)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    session.server(eof((4 + 1000) & 0xFF))
    event = only(session)
    assert event["mysql"]["num_rows"] == 1000
    head = len(packet(1, b"\x01")) + len(column(2, "blob")) + len(eof(3))
    assert event["destination"]["bytes"] == head + 1000 * len(row) + len(eof(0))
    assert len(event["response"].split("\n")) == 1 + 10 + 1  # header, max_rows rows, the final newline
    assert peak - before < 2 << 20  # ten kept rows of max_row_length, never the 50 MB


def test_query_attributes_of_mysql_8_are_not_part_of_the_query() -> None:
    attrs = DEPRECATE | Capability.QUERY_ATTRIBUTES
    session = Session().server(greeting(capabilities=attrs)).client(login("u", capabilities=attrs)).server(ok(2))
    named = b"\x01\x01\x00\x01" + bytes([FieldType.VAR_STRING, 0]) + lenenc_str("trace") + lenenc_str("abc")
    session.client(command(Command.QUERY, named + b"SELECT 1")).server(ok(1))
    session.client(command(Command.QUERY, b"\x00\x01SELECT 2")).server(ok(1))
    unknown = Session().client(command(Command.QUERY, b"\x00\x01SELECT 3")).server(ok(1))
    assert [e["query"] for e in session.events() + unknown.events()] == ["SELECT 1", "SELECT 2", "SELECT 3"]


def test_change_user_names_the_user_of_later_commands() -> None:
    session = Session(commands=["*"]).client(command(Command.CHANGE_USER, b"carol\x00\x14" + bytes(20)))
    session.server(packet(1, b"\xfemysql_native_password\x00" + b"n" * 20)).client(packet(2, b"a" * 20))
    session.server(ok(3)).client(query("SELECT 1")).server(ok(1))
    change, select = session.events()
    assert (change["query"], change["status"]) == ("CHANGE_USER carol", "OK")
    assert select["user"]["name"] == "carol"


def test_fetch_reads_binary_rows_of_an_open_cursor() -> None:
    session = Session(commands=["*"], send_response=True)
    session.client(prepare("SELECT n FROM t")).server(prepare_ok(5, ["n"], 0, True))
    session.client(command(Command.STMT_FETCH, struct.pack("<II", 5, 2)))
    session.server(packet(1, b"\x00\x00" + lenenc_str("1")) + packet(2, b"\x00\x00" + lenenc_str("2")) + eof(3))
    fetch = session.events()[1]
    assert (fetch["method"], fetch["mysql"]["num_rows"], fetch["response"]) == ("STMT_FETCH", 2, "n\n1\n2\n")


def test_a_compressed_connection_is_counted_and_not_parsed_after_its_login() -> None:
    caps = DEPRECATE | Capability.COMPRESS
    session = Session(commands=["*"]).server(greeting(capabilities=caps)).client(login("zed", capabilities=caps))
    session.server(ok(2)).client(b"\x0d\x00\x00\x00\x00\x00\x00" + query("SELECT 1")).server(b"\x0b\x00\x00\x01" + bytes(11))
    assert [e["method"] for e in session.close().events()] == ["LOGIN"]
    assert session.module.stats["compressed_connections"] == 1


def test_mariadb_pipelining_executes_the_statement_its_prepare_is_making() -> None:
    session = Session(commands=["*"])
    session.client(prepare("SELECT ? + 1") + execute(0xFFFFFFFF, [(FieldType.LONG, struct.pack("<i", 41))]))
    session.server(prepare_ok(9, ["x"], 1, True) + ok(1))
    prepared, executed = session.events()
    assert (executed["query"], executed["params"]) == ("SELECT ? + 1", ["41"])
    later = session.client(execute(0xFFFFFFFF, [(FieldType.LONG, struct.pack("<i", 1))])).server(ok(1)).events()[2]
    assert later["query"] == "SELECT ? + 1"


def test_a_server_that_turns_the_connection_away_gives_a_failed_login() -> None:
    event = only(Session().server(err(0, 1040, "08004", "Too many connections")))
    assert (event["method"], event["status"], event["mysql"]["error_code"]) == ("LOGIN", "Error", 1040)
    assert event["mysql"]["error_message"] == "08004: Too many connections"


def test_an_unknown_command_name_in_the_config_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"commands.*unknown command 'SELECT'"):
        Session(commands=["QUERY", "SELECT"])
    assert Session(commands=["com_ping"]).module.mysql_config.commands == frozenset({"PING"})
