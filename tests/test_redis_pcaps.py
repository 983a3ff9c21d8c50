"""Packetbeat's redis system tests on their own pcaps: test_0013_redis_basic (redis_session.pcap) and
test_0022_redis_send_options (redis_one_transaction.pcap), every assertion. Expected values are the
ones in those tests; byte counts are the TCP payload lengths tshark shows for each segment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packetshipper.testing import events_from_pcap


def run(path: Path, **options: Any) -> list[dict[str, Any]]:
    return events_from_pcap(str(path), {"packetshipper": {
        "flows": {"enabled": False}, "protocols": [{"type": "redis", "ports": [6380], **options}]}})


def test_0013_redis_session(packetbeat_data: Path, assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    objs = run(packetbeat_data / "redis_session.pcap")
    assert len(objs) == 11  # 11 request/reply pairs in the capture (tshark -d tcp.port==6380,resp)
    for o in objs:
        assert_valid_event(o)
    assert all(o["type"] == "redis" for o in objs)
    assert all(o["event"]["dataset"] == "redis" for o in objs)

    assert objs[0]["method"] == "SET"
    assert objs[0]["resource"] == "key3"
    assert objs[0]["query"] == "set key3 me"
    assert objs[0]["status"] == "OK"
    assert objs[0]["redis"]["return_value"] == "OK"

    assert objs[1]["status"] == "OK"
    assert objs[1]["method"] == "GET"
    assert objs[1]["redis"]["return_value"] == "me"
    assert objs[1]["query"] == "get key3"

    assert objs[2]["status"] == "Error"
    assert objs[2]["method"] == "LLEN"
    assert objs[2]["redis"]["error"] == "ERR Operation against a key holding the wrong kind of value"

    assert all(o["status"] == "OK" for o in objs[3:])
    assert all("return_value" in o["redis"] for o in objs[3:])
    assert all(isinstance(o["method"], str) for o in objs[3:])
    assert all(isinstance(o["resource"], str) for o in objs[3:])
    assert all(isinstance(o["query"], str) for o in objs[3:])

    assert all("bytes" in o["source"] for o in objs)
    assert all("bytes" in o["destination"] for o in objs)


def test_0013_byteout_bytein(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data / "redis_session.pcap")
    assert all(o["type"] == "redis" for o in objs)
    assert all(isinstance(o["source"]["bytes"], int) for o in objs)
    assert all(isinstance(o["destination"]["bytes"], int) for o in objs)
    assert all(o["source"]["bytes"] > 0 for o in objs)
    assert all(o["destination"]["bytes"] > 0 for o in objs)
    # Each command and each reply is one segment: its tcp.len in tshark.
    assert [(o["source"]["bytes"], o["destination"]["bytes"]) for o in objs] == [
        (31, 5), (23, 8), (24, 62), (36, 4), (37, 4), (37, 4), (24, 4), (33, 11), (33, 5), (33, 12), (33, 12)]
    # LINDEX of an index past the end answers a null bulk string ($-1), which Packetbeat shows as nil.
    assert [o["redis"]["return_value"] for o in objs[7:]] == ["hello", "nil", "hello1", "hello2"]


def test_0022_default_settings(packetbeat_data: Path) -> None:
    objs = run(packetbeat_data / "redis_one_transaction.pcap")
    assert len(objs) == 1
    assert "request" not in objs[0]
    assert "response" not in objs[0]


@pytest.mark.parametrize(("send_request", "send_response"), [(True, False), (False, True), (False, False),
                                                             (True, True)])
def test_0022_send_options(packetbeat_data: Path, send_request: bool, send_response: bool) -> None:
    objs = run(packetbeat_data / "redis_one_transaction.pcap", send_request=send_request,
               send_response=send_response)
    assert len(objs) == 1
    res = objs[0]
    assert ("request" in res) == send_request
    assert ("response" in res) == send_response
    if send_request:
        assert len(res["request"]) > 0
        assert res["request"] == "lindex test 1"  # the command tshark shows
    if send_response:
        assert len(res["response"]) > 0
        assert res["response"] == "hello1"
