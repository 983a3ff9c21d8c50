"""Packetbeat's pgsql capture files, with every assertion of its system tests (test_0009_pgsql,
test_0009_pgsql_extended_query, test_0018_pgsql_long_result, test_0021_pgsql_send_options).

Packetbeat's old flat field names map onto its ECS events: `bytes_in` is `source.bytes`, `bytes_out`
`destination.bytes`, `responsetime` (milliseconds, truncated) `event.duration` (nanoseconds), and
`pgsql.iserror` is `status == "Error"`. `events_from_pcap` validates every event against fields/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"


def pgsql_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "pgsql", "ports": [5432], **options}],
                                "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "pgsql"]


def test_select() -> None:
    (o,) = pgsql_events("pgsql_request_response.pcap", send_response=True)
    assert o["type"] == "pgsql"
    assert o["method"] == "SELECT"
    assert o["query"] == "select * from test"
    assert o["response"] == "a,b,c\nmea,meb,mec\nmea1,meb1,mec1\nmea2,meb2,mec2\nmea3,meb3,mec3\n"
    assert o["destination"]["bytes"] == 202  # bytes_out
    assert o["status"] == "OK"
    assert o["pgsql"]["num_rows"] == 4 and o["pgsql"]["num_fields"] == 3  # tshark: 4 Data rows, 3 fields


def test_insert() -> None:
    (o,) = pgsql_events("pgsql_insert.pcap")
    assert o["type"] == "pgsql"
    assert o["method"] == "INSERT"
    assert o["destination"]["bytes"] == 16  # bytes_out
    assert o["source"]["bytes"] == 63  # bytes_in
    assert o["query"] == "insert into test(a, b, c) values('mea5', 'meb5', 'mec5')"


def test_insert_error() -> None:
    (o,) = pgsql_events("pgsql_insert_error.pcap")
    assert o["type"] == "pgsql"
    assert o["method"] == "INSERT"
    assert o["status"] == "Error"  # and so pgsql.iserror
    assert o["pgsql"]["error_code"] == "23505"
    assert o["pgsql"]["error_severity"] == "ERROR"
    assert o["pgsql"]["error_message"] == 'duplicate key value violates unique constraint "unique_a"'
    assert o["event"]["outcome"] == "failure"


def test_login_rt() -> None:
    # Two connections, the first abandoned after the password challenge: only the SELECT is an event.
    (o,) = pgsql_events("pgsql_rt.pcap")
    assert o["method"] == "SELECT"
    assert o["event"]["duration"] // 1_000_000 == 38  # responsetime, in whole milliseconds


def test_extended_query() -> None:
    # The driver's `SET extra_float_digits = 3` sent with Parse is left out, as Packetbeat does.
    (o,) = pgsql_events("pgsql_extended_query.pcap")
    assert o["type"] == "pgsql"
    assert o["method"] == "SELECT"
    assert o["query"] == "SELECT * from test where id = $1"
    assert o["source"]["bytes"] == 90  # bytes_in: Parse, Bind, Describe, Execute, Sync
    assert o["destination"]["bytes"] == 101  # bytes_out: RowDescription, DataRow, CommandComplete
    assert o["pgsql"]["num_rows"] == 1


def test_extended_query_carries_the_startup_user_and_database() -> None:
    # tshark -V: the StartupMessage names user "postgres", database "postgres".
    (o,) = pgsql_events("pgsql_extended_query.pcap")
    assert o["user"]["name"] == "postgres"
    assert o["related"]["user"] == ["postgres"]
    assert o["pgsql"]["database"] == "postgres"


def _long_result(**options: Any) -> dict[str, Any]:
    (res,) = pgsql_events("pgsql_long_result.pcap", send_response=True, **options)
    assert res["pgsql"]["num_rows"] == 15
    return res


def test_long_result_default_settings() -> None:
    lines = _long_result()["response"].strip().split("\n")
    assert len(lines) == 11  # 10 plus header
    assert all(len(line) == 237 for line in lines[4:])


def test_long_result_max_row_length() -> None:
    lines = _long_result(max_row_length=79)["response"].strip().split("\n")
    assert len(lines) == 11
    assert all(len(line) == 83 for line in lines[4:])  # 79 plus two separators and two quotes


def test_long_result_max_rows() -> None:
    lines = _long_result(max_row_length=79, max_rows=5)["response"].strip().split("\n")
    assert len(lines) == 6  # 5 plus header


def test_long_result_larger_max_rows() -> None:
    lines = _long_result(max_rows=2000)["response"].strip().split("\n")
    assert len(lines) == 16  # 15 plus header


@pytest.mark.parametrize(("send_request", "send_response"), [(None, None), (True, False), (False, True),
                                                             (False, False), (True, True)])
def test_send_options(send_request: bool | None, send_response: bool | None) -> None:
    options = {} if send_request is None else {"send_request": send_request, "send_response": send_response}
    (res,) = pgsql_events("pgsql_long_result.pcap", **options)
    assert ("request" in res) is bool(send_request)
    assert ("response" in res) is bool(send_response)
    if send_request:
        assert len(res["request"]) > 0
        assert res["request"] == "select * from long_response"
    if send_response:
        assert len(res["response"]) > 0


def test_matches_packetbeats_sample_output() -> None:
    # packetbeat/_meta/sample_outputs/pgsql.json is this capture's event as Packetbeat 7.0 wrote it.
    import json

    sample = json.loads((PCAPS / "sample_outputs" / "pgsql.json").read_text())
    (o,) = pgsql_events("pgsql_request_response.pcap", send_response=True)
    # @timestamp: the first packet's record time is .161944 s (tshark); 7.0 wrote it truncated to .161.
    assert o["@timestamp"] == "2015-01-10T19:45:43.161944Z"
    assert o["@timestamp"][:23] + "Z" == sample["@timestamp"]
    assert (o["source"]["bytes"], o["destination"]["bytes"]) == (sample["bytes_in"], sample["bytes_out"])
    assert o["event"]["duration"] // 1_000_000 == sample["responsetime"]
    for key in ("type", "method", "status", "query", "response"):
        assert o[key] == sample[key], key
    assert (o["client"]["ip"], o["client"]["port"]) == (sample["client"]["ip"], sample["client"]["port"])
    assert (o["server"]["ip"], o["server"]["port"]) == (sample["server"]["ip"], sample["server"]["port"])
    assert {k: o["pgsql"][k] for k in ("num_rows", "num_fields")} == {
        k: sample["pgsql"][k] for k in ("num_rows", "num_fields")}
    assert "error_code" not in o["pgsql"]  # 7.0 wrote empty error fields on success; 8.x leaves them out
