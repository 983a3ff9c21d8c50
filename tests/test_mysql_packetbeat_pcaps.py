"""Packetbeat's own MySQL system tests (packetbeat/tests/system/test_00NN_mysql_*.py), every assertion, on
its pcaps. Events are flattened to dotted keys as Packetbeat's `read_output` does, so each assertion
reads as it does there. Where Packetbeat's older test versions used pre-ECS names (`port`, `bytes_in`,
`bytes_out`, `count`, `mysql.iserror`), the current versions' names are used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packetshipper.testing import events_from_pcap

DATA = Path(__file__).parent / "pcaps" / "packetbeat"


def flat(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict) and key not in ("fields",):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run(pcap: str, ports: list[int], **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"flows": {"enabled": False},
                                "protocols": [{"type": "mysql", "ports": ports, **options}]}}
    return [flat(e) for e in events_from_pcap(str(DATA / pcap), config)]


def test_0001_mysql_with_spaces() -> None:
    objs = run("mysql_with_whitespaces.pcap", [3306])
    assert all(o["type"] == "mysql" for o in objs)
    assert len(objs) == 7
    assert all(o["server.port"] == 3306 for o in objs)
    assert objs[0]["method"] == "SET"
    assert objs[0]["status"] == "OK"
    assert "path" not in objs[0]  # the old test's `path == ""`: Packetbeat now leaves an empty path out
    assert objs[2]["method"] == "DROP"
    assert objs[2]["status"] == "OK"
    assert objs[3]["method"] == "CREATE"
    assert objs[3]["status"] == "OK"
    assert objs[5]["method"] == "SELECT"
    assert objs[5]["path"] == "test.test"
    assert objs[5]["status"] == "OK"
    assert objs[5]["destination.bytes"] == 118
    assert all("source.bytes" in o for o in objs)
    assert all("destination.bytes" in o for o in objs)


def test_0005_mysql_integration_string_operations() -> None:
    objs = run("mysql_int_string_operations.pcap", [13001])
    assert all(o["type"] == "mysql" for o in objs)
    assert len(objs) == 157
    assert all(o["server.port"] == 13001 for o in objs)
    assert len([o for o in objs if o["method"] == "SELECT"]) == 134
    assert len([o for o in objs if o["method"] == "SHOW"]) == 10
    assert len([o for o in objs if o["method"] == "ALTER"]) == 4
    assert len([o for o in objs if o["method"] == "SET"]) == 3
    assert len([o for o in objs if o["method"] == "CREATE"]) == 2


def _long_result(**options: Any) -> tuple[dict[str, Any], list[str]]:
    objs = run("mysql_long_result.pcap", [3306], send_response=True, **options)
    assert len(objs) == 1
    res = objs[0]
    assert res["mysql.num_rows"] == 15
    return res, res["response"].strip().split("\n")


def test_0017_default_settings_keep_10_whole_rows() -> None:
    _, lines = _long_result()
    assert len(lines) == 11  # 10 plus header
    for line in lines[3:]:
        assert len(line) == 261


def test_0017_max_row_length_cuts_rows() -> None:
    _, lines = _long_result(max_row_length=79)
    assert len(lines) == 11
    for line in lines[3:]:
        assert len(line) == 81  # 79 plus two separators


def test_0017_max_rows_caps_the_rows() -> None:
    _, lines = _long_result(max_row_length=79, max_rows=5)
    assert len(lines) == 6
    for line in lines[3:]:
        assert len(line) == 81


def test_0017_larger_max_rows_keeps_all() -> None:
    _, lines = _long_result(max_rows=2000)
    assert len(lines) == 16


def test_0017_larger_than_100k() -> None:
    objs = run("mysql_long.pcap", [3306], send_response=True)
    assert len(objs) == 1
    assert objs[0]["mysql.num_rows"] == 400


def _send_options(send_request: bool, send_response: bool) -> dict[str, Any]:
    objs = run("mysql_long_result.pcap", [3306], send_request=send_request, send_response=send_response)
    assert len(objs) == 1
    return objs[0]


def test_0020_default_settings_send_neither() -> None:
    objs = run("mysql_long_result.pcap", [3306])
    assert len(objs) == 1
    assert "request" not in objs[0]
    assert "response" not in objs[0]


def test_0020_send_request_only() -> None:
    res = _send_options(True, False)
    assert "request" in res
    assert len(res["request"]) > 0
    assert "response" not in res


def test_0020_send_response_only() -> None:
    res = _send_options(False, True)
    assert "request" not in res
    assert "response" in res
    assert len(res["response"]) > 0


def test_0020_both_off() -> None:
    res = _send_options(False, False)
    assert "request" not in res
    assert "response" not in res


def test_0020_both_on() -> None:
    res = _send_options(True, True)
    assert "request" in res
    assert "response" in res


def test_0027_mysql_affected_rows() -> None:
    objs = run("mysql_affected_rows.pcap", [3306])
    assert all(o["type"] == "mysql" for o in objs)
    assert len(objs) == 1
    assert all(o["server.port"] == 3306 for o in objs)
    assert objs[0]["method"] == "UPDATE"
    assert objs[0]["mysql.affected_rows"] == 316
    assert objs[0]["status"] == "OK"


def test_0028_mysql_error() -> None:
    objs = run("mysql_err_database_not_selected.pcap", [3306])
    assert all(o["type"] == "mysql" for o in objs)
    assert len(objs) == 1
    assert all(o["server.port"] == 3306 for o in objs)
    assert objs[0]["method"] == "SELECT"
    assert objs[0]["status"] == "Error"
    assert objs[0]["mysql.error_code"] == 1046
    assert objs[0]["mysql.error_message"] == "3D000: No database selected"


def test_0030_gap_in_large_file() -> None:
    objs = run("mysql_with_gap.pcap", [3306])
    assert len(objs) == 1
    o = objs[0]
    assert o["status"] == "OK"
    assert o["method"] == "SELECT"
    assert o["mysql.num_rows"] > 1
    # Packetbeat's note; its older test read it from `notes`, the current one from error.message.
    assert o["error.message"] == "Packet loss while capturing the response"


def test_0064_mysql_prepare_statement() -> None:
    objs = run("mysql_prepare_statement.pcap", [3307])
    assert all(o["type"] == "mysql" for o in objs)
    assert all(o["server.port"] == 3307 for o in objs)
    assert len(objs) == 2
    assert objs[1]["method"] == "SELECT"
    assert objs[1]["status"] == "OK"
    assert objs[1]["params"][0] == "A1224638"
    # The older test's one-string form of the same values, "A1224638#2017/7/28 0:0:0#2017/10/28 23:59:59".
    assert "#".join(objs[1]["params"]) == "A1224638#2017/7/28 0:0:0#2017/10/28 23:59:59"
    assert objs[1]["mysql.num_rows"] == 1
    assert all("source.bytes" in o for o in objs)
    assert all("destination.bytes" in o for o in objs)


def test_0064_mysql_windows_lineending() -> None:
    objs = run("mysql_windows_lineending.pcap", [3306])
    assert len(objs) == 1
    o = objs[0]
    assert o["status"] == "OK"
    assert o["method"] == "SELECT"


def test_0067_connection_phase() -> None:
    objs = run("mysql_connection.pcap", [3306])
    assert len(objs) > 0
    # Beyond Packetbeat's assertion: every command after the handshake, in order (tshark -Y mysql.query).
    assert [o["query"] for o in objs] == ["select @@version_comment limit 1", "CREATE DATABASE test",
                                          "SELECT DATABASE()", "USE test", "SHOW TABLES", "DROP DATABASE test"]
    assert all(o["user.name"] == "root" for o in objs)
