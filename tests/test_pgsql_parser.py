"""The pgsql parsers, each case fed whole, one byte at a time, and followed by the start of another message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pgsql_wire as w
import pytest
from packetshipper.modules.pgsql.messages import PACKET_LOSS_RESPONSE, Back, Front
from packetshipper.modules.pgsql.parser import BackendParser, FrontendParser, Negotiation
from packetshipper.modules.pgsql.settings import PgsqlConfig
from packetshipper.protocol import ProtocolError

CONFIG = PgsqlConfig.from_mapping({"send_response": True})


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def frontend(config: PgsqlConfig = CONFIG, negotiation: Negotiation | None = None,
             counts: Counts | None = None) -> FrontendParser:
    return FrontendParser(config, negotiation or Negotiation(), counts if counts is not None else Counts())


def backend(config: PgsqlConfig = CONFIG, negotiation: Negotiation | None = None,
            counts: Counts | None = None) -> BackendParser:
    return BackendParser(config, negotiation or Negotiation(), counts if counts is not None else Counts())


def three_ways(make: Callable[[], Any], data: bytes, trailing: bytes) -> list[Any]:
    """Messages of `data` fed whole, byte by byte, and with `trailing` (an unfinished message) after it."""
    whole = w.feed(make(), data)
    assert w.feed_bytewise(make(), data) == whole
    assert w.feed(make(), data + trailing) == whole
    return whole


FRONT_TAIL = w.query("SELECT 1")[:7]
BACK_TAIL = w.ready()[:3]


def test_startup_message_parameters() -> None:
    data = w.startup(user="alice", database="shop", application_name="psql")
    (m,) = three_ways(frontend, data, FRONT_TAIL)
    assert m.kind is Front.STARTUP and m.size == len(data)
    assert (m.param("user"), m.param("database"), m.param("application_name")) == ("alice", "shop", "psql")


def test_simple_query_text_and_size() -> None:
    data = w.query("select 1; select 2")
    (m,) = three_ways(frontend, data, FRONT_TAIL)
    assert (m.kind, m.sql, m.size) == (Front.QUERY, "select 1; select 2", len(data))


def test_extended_query_messages_in_order() -> None:
    data = (w.parse("SELECT $1", name="s1", param_types=[23]) + w.bind([b"7", None], statement="s1", portal="p")
            + w.describe("P", "p") + w.execute("p") + w.close("S", "s1") + w.flush() + w.sync())
    got = three_ways(frontend, data, FRONT_TAIL)
    assert [m.kind for m in got] == [Front.PARSE, Front.BIND, Front.DESCRIBE, Front.EXECUTE, Front.CLOSE,
                                     Front.FLUSH, Front.SYNC]
    assert (got[0].sql, got[0].name) == ("SELECT $1", "s1")
    assert (got[1].name, got[1].portal) == ("s1", "p")
    assert got[3].name == "p" and got[4].name == "S:s1"
    assert sum(m.size for m in got) == len(data)


def test_copy_data_is_summed_into_the_copy_end() -> None:
    rows = [w.copy_data(b"1\tone\n"), w.copy_data(b"2\ttwo\n")]
    data = b"".join(rows) + w.copy_done()
    (m,) = three_ways(frontend, data, FRONT_TAIL)
    assert (m.kind, m.size, m.failed) == (Front.COPY_END, len(data), False)
    (failed,) = w.feed(frontend(), w.copy_data(b"x") + w.copy_fail("client gave up"))
    assert failed.failed


def test_password_cancel_and_terminate() -> None:
    data = w.password("secret") + w.terminate()
    assert [m.kind for m in three_ways(frontend, data, FRONT_TAIL)] == [Front.PASSWORD, Front.TERMINATE]
    (cancel,) = three_ways(frontend, w.cancel_request(), FRONT_TAIL)
    assert cancel.kind is Front.CANCEL and cancel.size == 16


def test_login_answers() -> None:
    got = three_ways(backend, w.auth(5, b"salt") + w.login_ok(), BACK_TAIL)
    assert [(m.kind, m.code) for m in got] == [(Back.AUTH, 5), (Back.AUTH, 0), (Back.READY, 0)]
    assert got[-1].status == "I"


def test_select_result_gathers_rows_into_command_complete() -> None:
    result = w.select_result(["a", "b"], [["1", "x"], [None, "y, z"]])
    got = three_ways(backend, result + w.ready(), BACK_TAIL)
    first, ready = got
    assert (first.kind, first.tag, first.fields, first.num_rows) == (Back.RESULT, "SELECT 2", ("a", "b"), 2)
    assert first.rows == (("1", "x"), ("", "y, z"))
    assert first.size == len(result)  # RowDescription + DataRows + CommandComplete, not ReadyForQuery
    assert ready.kind is Back.READY


def test_rows_past_max_rows_are_counted_not_kept() -> None:
    config = PgsqlConfig.from_mapping({"max_rows": 2, "max_row_length": 5, "send_response": True})
    result = w.select_result(["c1", "c2"], [["abcd", "efgh"]] * 4)
    (m,) = three_ways(lambda: backend(config), result, BACK_TAIL)
    assert m.num_rows == 4 and m.rows == (("abcd", "e"), ("abcd", "e"))
    assert m.size == len(result)


def test_binary_columns_render_empty_as_packetbeat_does() -> None:
    result = (w.row_description("t", "b", formats=[0, 1]) + w.data_row("text", b"\x00\x01")
              + w.command_complete("SELECT 1"))
    (m,) = three_ways(backend, result, BACK_TAIL)
    assert m.rows == (("text", ""),)


def test_error_notice_empty_and_suspended() -> None:
    data = (w.notice("01000", "careful") + w.row_description("x") + w.data_row("1")
            + w.error("22012", "division by zero") + w.empty_query() + w.data_row("9") + w.portal_suspended())
    notice, error, empty, suspended = three_ways(backend, data, BACK_TAIL)
    assert notice.kind is Back.NOTICE and notice.error.code == "01000" and notice.error.severity == "NOTICE"
    assert error.kind is Back.ERROR and error.error.code == "22012" and error.num_rows == 1
    assert error.error.message == "division by zero" and error.error.severity == "ERROR"
    assert empty.kind is Back.EMPTY_QUERY
    assert suspended.kind is Back.SUSPENDED and suspended.num_rows == 1


def test_extended_acknowledgements_are_framed_but_not_emitted() -> None:
    data = (w.parse_complete() + w.bind_complete() + w.row_description("n") + w.data_row("42")
            + w.command_complete("SELECT 1") + w.ready())
    result, ready = three_ways(backend, data, BACK_TAIL)
    assert result.size == len(data) - len(w.parse_complete() + w.bind_complete() + w.ready())
    assert ready.kind is Back.READY


def test_ssl_refused_then_the_startup_goes_on() -> None:
    negotiation = Negotiation()
    front, back = frontend(negotiation=negotiation), backend(negotiation=negotiation)
    (request,) = w.feed(front, w.ssl_request())
    assert request.kind is Front.SSL_REQUEST and negotiation.requested
    answer, notice = w.feed(back, w.ssl_answer(False) + w.notice("00000", "hi"))
    assert answer.kind is Back.SSL_ANSWER and answer.status == "N" and not negotiation.encrypted
    assert notice.kind is Back.NOTICE  # an 'N' after the answer is a NoticeResponse again
    (startup,) = w.feed(front, w.startup(user="u"))
    assert startup.kind is Front.STARTUP


def test_ssl_accepted_stops_parsing_both_directions_and_is_counted() -> None:
    negotiation, counts = Negotiation(), Counts()
    front, back = frontend(negotiation=negotiation, counts=counts), backend(negotiation=negotiation, counts=counts)
    w.feed(front, w.ssl_request())
    (answer,) = w.feed(back, w.ssl_answer(True))
    assert answer.status == "S" and negotiation.encrypted
    assert counts == {"encrypted_connections": 1}
    tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100)
    assert w.feed(front, tls_hello) == [] and w.feed(back, b"\x16\x03\x03" + bytes(50)) == []


def test_oversized_messages_are_skipped_unbuffered_and_counted() -> None:
    config = PgsqlConfig.from_mapping({"max_message_size": 100, "send_response": True})
    counts = Counts()
    big = w.query("SELECT '" + "x" * 500 + "'")
    parser = frontend(config, counts=counts)
    got = w.feed_split(parser, big + w.query("SELECT 2"), [50, 300])
    assert [(m.sql, m.size) for m in got] == [(None, len(big)), ("SELECT 2", len(w.query("SELECT 2")))]
    assert counts["oversized_messages"] == 1
    back = backend(config, counts=counts)
    result = w.select_result(["v"], [["y" * 500], ["z"]])
    (m,) = w.feed_split(back, result, [10, 120, 400])
    assert m.num_rows == 2 and m.rows == (("z",),) and m.size == len(result)
    assert len(back._buf) == 0  # noqa: SLF001 - nothing left buffered


@pytest.mark.parametrize("data", [
    b"Q\x00\x00\x00\x02",  # length below 4
    b"\x7f\x00\x00\x00\x04",  # no such message type
    b"S\x00\x00\x00\x09abcde",  # Sync has no body
    b"\x00\x00\x00\x04\x00\x03\x00\x00",  # startup packet shorter than its header
    b"\x00\x00\x00\x08\x12\x34\x56\x78",  # unknown startup code
    w.parse("x")[:5] + b"no nul here",  # strings without their NUL
])
def test_malformed_frontend_input_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        w.feed(frontend(), data + bytes(20))


@pytest.mark.parametrize("data", [
    b"Z\x00\x00\x00\x06II",  # ReadyForQuery has one status byte
    b"T\x00\x00\x00\x06\xff\xff",  # negative field count
    w.row_description("a")[:-2] + b"\x00",  # RowDescription cut short inside its length
    b"D\x00\x00\x00\x0a\x00\x01\xff\xff\xff\xf0",  # value length below -1
    b"q\x00\x00\x00\x04",  # not a backend type
])
def test_malformed_backend_input_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        w.feed(backend(), data + w.ready())


def test_gap_inside_a_data_row_keeps_the_result_with_a_note() -> None:
    parser = backend()
    row = w.data_row("a" * 100)
    assert parser.receive_data(w.row_description("v") + row[:20], 1.0) == []
    assert parser.receive_gap(50, 1.1) == []
    (m,) = parser.receive_data(row[70:] + w.command_complete("SELECT 1"), 1.2)
    assert m.num_rows == 1 and m.rows == () and m.notes == (PACKET_LOSS_RESPONSE,)


def test_gap_across_messages_flushes_the_partial_result_and_resyncs_at_ready_for_query() -> None:
    counts = Counts()
    parser = backend(counts=counts)
    assert parser.receive_data(w.row_description("v") + w.data_row("1"), 1.0) == []
    (partial,) = parser.receive_gap(500, 1.1)
    assert partial.kind is Back.RESULT and partial.num_rows == 1 and partial.notes == (PACKET_LOSS_RESPONSE,)
    junk = w.data_row("2")[3:] + w.command_complete("SELECT 2")
    ready, result = parser.receive_data(junk + w.ready("I") + w.select_result(["n"], [["5"]]), 1.2)
    assert ready.kind is Back.READY and result.rows == (("5",),)
    assert counts["gaps_resynced"] == 1
