"""Packetbeat's Thrift captures with every assertion of its system tests test_0002_thrift_basics.py
and test_0004_ipv6.py. `bytes_in`/`bytes_out` are `source.bytes`/`destination.bytes`, `server.port`
and `client_ip`/`ip` are `server.port`, `client.ip`/`server.ip`. The IDL files are in
tests/pcaps/thrift/ (Packetbeat's copies of Apache Thrift's tutorial and test IDLs are not stored
here: these declare the same services, methods and argument names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
IDL = Path(__file__).parent / "pcaps" / "thrift"
TUTORIAL_IDL = [str(IDL / "tutorial.thrift"), str(IDL / "shared.thrift")]


def thrift_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "thrift", "ports": [9090], **options}],
                                "flows": {"enabled": False}}}
    return [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "thrift"]


def tutorial_asserts(objs: list[dict[str, Any]]) -> None:
    assert len(objs) == 17
    assert all(o["type"] == "thrift" for o in objs)
    assert all(o["source"]["bytes"] > 0 for o in objs)
    assert all(o["destination"]["bytes"] > 0 for o in objs[0:14])
    assert all(o["destination"]["bytes"] > 0 for o in objs[16:])
    assert objs[14]["destination"]["bytes"] == 0
    assert objs[15]["destination"]["bytes"] == 0
    assert objs[0]["method"] == "ping"
    assert objs[0]["thrift"]["params"] == "()"
    assert objs[0]["thrift"]["return_value"] == ""
    assert objs[1]["method"] == "add"
    assert objs[1]["thrift"]["params"] == "(1: 1, 2: 1)"
    assert objs[1]["thrift"]["return_value"] == "2"
    assert objs[2]["method"] == "add16"
    assert objs[2]["query"] == "add16(1: 1, 2: 1)"
    assert objs[2]["thrift"]["params"] == "(1: 1, 2: 1)"
    assert objs[2]["thrift"]["return_value"] == "2"
    assert objs[3]["method"] == "add64"
    assert objs[3]["query"] == "add64(1: 1, 2: 1)"
    assert objs[3]["thrift"]["params"] == "(1: 1, 2: 1)"
    assert objs[3]["thrift"]["return_value"] == "2"
    assert objs[4]["method"] == "add_doubles"
    assert objs[4]["thrift"]["params"] == "(1: 1.2, 2: 1.3)"
    assert objs[4]["thrift"]["return_value"] == "2.5"
    assert objs[5]["method"] == "echo_bool"
    assert objs[5]["thrift"]["params"] == "(1: true)"
    assert objs[5]["thrift"]["return_value"] == "true"
    assert objs[6]["method"] == "echo_string"
    assert objs[6]["thrift"]["params"] == '(1: "hello")'
    assert objs[6]["thrift"]["return_value"] == '"hello"'


def test_thrift_tutorial_socket() -> None:
    objs = thrift_events("thrift_tutorial.pcap", send_request=True, send_response=True)
    tutorial_asserts(objs)
    assert all(len(o["request"]) > 0 for o in objs)
    assert objs[0]["request"] == "ping()"
    assert objs[11]["response"] == 'Exceptions: (1: (1: 4, 2: "Cannot divide by 0"))'
    assert all(o["server"]["port"] == 9090 for o in objs)


def test_send_options_default() -> None:
    objs = thrift_events("thrift_tutorial.pcap")
    tutorial_asserts(objs)
    assert all("request" not in o for o in objs)
    assert all("response" not in o for o in objs)


def test_thrift_tutorial_framed() -> None:
    tutorial_asserts(thrift_events("thrift_tutorial_framed_transport.pcap", transport_type="framed"))


def test_thrift_tutorial_with_idl() -> None:
    objs = thrift_events("thrift_tutorial.pcap", idl_files=TUTORIAL_IDL)
    assert len(objs) == 17
    assert all(o["type"] == "thrift" for o in objs)
    assert all(o["thrift"]["service"] in ("Calculator", "SharedService") for o in objs)
    expected = [("ping", "()", ""), ("add", "(num1: 1, num2: 1)", "2"), ("add16", "(num1: 1, num2: 1)", "2"),
                ("add64", "(num1: 1, num2: 1)", "2"), ("add_doubles", "(num1: 1.2, num2: 1.3)", "2.5"),
                ("echo_bool", "(b: true)", "true"), ("echo_string", '(s: "hello")', '"hello"')]
    for o, (method, params, value) in zip(objs, expected, strict=False):
        assert (o["method"], o["thrift"]["params"], o["thrift"]["return_value"]) == (method, params, value)


def test_thrift_integration() -> None:
    objs = thrift_events("thrift_integration.pcap", idl_files=[str(IDL / "ThriftTest.thrift")])
    assert len(objs) == 26
    assert all(o["type"] == "thrift" for o in objs)
    assert all(o["thrift"]["service"] == "ThriftTest" for o in objs)
    assert objs[0]["method"] == "testByte"
    assert objs[0]["thrift"]["params"] == "(thing: 63)"
    assert objs[0]["thrift"]["return_value"] == "63"
    assert objs[5]["method"] == "testEnum"
    assert objs[5]["thrift"]["params"] == "(thing: 5)"
    assert objs[5]["thrift"]["return_value"] == "5"
    assert objs[17]["method"] == "testOneway"
    assert objs[17]["thrift"]["params"] == "(secondsToSleep: 1)"
    assert "return_value" not in objs[17]["thrift"]
    assert objs[17]["destination"]["bytes"] == 0
    assert objs[21]["method"] == "testString"
    assert objs[21]["thrift"]["params"] == '(thing: "' + "Python" * 20 + '")'
    assert objs[21]["thrift"]["return_value"] == '"' + "Python" * 20 + '"'


def test_thrift_send_request_response() -> None:
    idl = [str(IDL / "ThriftTest.thrift")]
    objs = thrift_events("thrift_integration.pcap", idl_files=idl, send_request=True, send_response=False)
    assert all(len(o["request"]) > 0 for o in objs)
    assert all("response" not in o for o in objs)
    objs = thrift_events("thrift_integration.pcap", idl_files=idl, send_request=False, send_response=False)
    assert all("request" not in o for o in objs)
    assert all("response" not in o for o in objs)


def test_thrift_binary() -> None:
    objs = thrift_events("thrift_echo_binary.pcap", transport_type="framed", idl_files=TUTORIAL_IDL)
    assert len(objs) == 1
    o = objs[0]
    assert o["method"] == "echo_binary"
    assert o["thrift"]["return_value"] == "ab0c1d281a000000"


def test_ipv6_thrift_framed() -> None:
    """test_0004_ipv6."""
    objs = thrift_events("ipv6_thrift.pcap", transport_type="framed")
    assert len(objs) == 17
    assert all(o["type"] == "thrift" for o in objs)
    assert all(o["client"]["ip"] == "::1" for o in objs)
    assert all(o["server"]["ip"] == "::1" for o in objs)
    assert all(o["network"]["type"] == "ipv6" for o in objs)


def test_exceptions_are_errors_and_named_from_the_idl() -> None:
    o = thrift_events("thrift_tutorial.pcap", idl_files=TUTORIAL_IDL)[11]
    assert o["status"] == "Error"
    assert o["thrift"]["exceptions"] == '(ouch: (1: 4, 2: "Cannot divide by 0"))'
