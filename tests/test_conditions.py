"""Beats conditions, each operator against values worked out by hand from libbeat's documented rules."""

from __future__ import annotations

from typing import Any

import pytest
from packetshipper.conditions import MISSING, build_condition, lookup
from packetshipper.settings import ConfigError

EVENT: dict[str, Any] = {
    "type": "http",
    "status": "Error",
    "tags": ["edge", "dmz"],
    "http": {"response": {"status_code": 503, "bytes": "2048"}, "request": {"method": "GET"}},
    "event.duration": 1500000,  # a literal dotted key
    "source": {"ip": "10.1.2.3", "port": 51234},
    "destination": {"ip": "8.8.8.8"},
    "related": {"ip": ["192.168.1.9", "fe80::1"]},
    "flow": {"final": True},
    "ratio": 0.25,
}


def matches(spec: dict[str, Any], event: dict[str, Any] = EVENT) -> bool:
    return build_condition(spec)(event)


@pytest.mark.parametrize(("spec", "expected"), [
    ({"equals": {"type": "http"}}, True),
    ({"equals": {"type": "dns"}}, False),
    ({"equals": {"http.response.status_code": 503}}, True),
    ({"equals": {"http.response.status_code": "503"}}, False),  # a string never equals a number
    ({"equals": {"http.response.bytes": 2048}}, False),  # nor a number a string
    ({"equals": {"flow.final": True}}, True),
    ({"equals": {"flow.final": 1}}, False),  # booleans only equal booleans
    ({"equals": {"event.duration": 1500000}}, True),
    ({"equals": {"type": "http", "status": "OK"}}, False),  # every field must match
    ({"equals": {"http": {"request": {"method": "GET"}}}}, True),  # nested form, flattened
    ({"equals": {"no.such.field": "x"}}, False),
])
def test_equals(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(("spec", "expected"), [
    ({"contains": {"status": "rro"}}, True),
    ({"contains": {"status": "error"}}, False),  # case-sensitive
    ({"contains": {"tags": "dm"}}, True),  # any element of a list of strings
    ({"contains": {"tags": "core"}}, False),
    ({"contains": {"http.response.status_code": "50"}}, False),  # numbers are not searched
    ({"regexp": {"http.request.method": "^(GET|HEAD)$"}}, True),
    ({"regexp": {"status": "rr"}}, True),  # a match anywhere, as Go's MatchString
    ({"regexp": {"tags": "^d"}}, True),
    ({"regexp": {"tags": "^x"}}, False),
    ({"regexp": {"missing": ".*"}}, False),
])
def test_contains_and_regexp(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(("spec", "expected"), [
    ({"range": {"http.response.status_code.gte": 500}}, True),
    ({"range": {"http.response.status_code.gt": 503}}, False),
    ({"range": {"http.response.status_code.gte": 500, "http.response.status_code.lt": 600}}, True),
    ({"range": {"http.response.status_code.lte": 502}}, False),
    ({"range": {"http": {"response": {"status_code": {"gte": 503}}}}}, True),  # nested form
    ({"range": {"http.response.bytes.gt": 1024}}, True),  # a numeric string is read as a number
    ({"range": {"status.gt": 0}}, False),  # a non-numeric string is not in any range
    ({"range": {"ratio.lt": 0.5}}, True),
    ({"range": {"flow.final.gte": 0}}, False),  # booleans are not numbers
    ({"range": {"missing.gte": 0}}, False),
])
def test_range(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(("spec", "expected"), [
    ({"has_fields": ["type", "source.ip", "event.duration"]}, True),
    ({"has_fields": ["type", "user.name"]}, False),
    ({"network": {"source.ip": "private"}}, True),
    ({"network": {"source.ip": "10.1.0.0/16"}}, True),
    ({"network": {"source.ip": ["192.168.0.0/16", "loopback"]}}, False),
    ({"network": {"destination.ip": "public"}}, True),
    ({"network": {"destination.ip": "private"}}, False),
    ({"network": {"related.ip": "link_local_unicast"}}, True),  # any address of a list
    ({"network": {"status": "private"}}, False),  # not an address
], ids=str)
def test_has_fields_and_network(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(("address", "names"), [
    ("127.0.0.1", {"loopback"}),
    ("10.0.0.1", {"private", "unicast", "global_unicast"}),
    ("172.31.255.255", {"private", "unicast", "global_unicast"}),
    ("172.32.0.1", {"public", "unicast", "global_unicast"}),
    ("169.254.1.1", {"link_local_unicast"}),
    ("224.0.0.251", {"multicast", "link_local_multicast"}),
    ("239.1.1.1", {"multicast", "public"}),  # libbeat's public: not local nor private
    ("0.0.0.0", {"unspecified"}),
    ("255.255.255.255", set()),
    ("fd12::1", {"private", "unicast", "global_unicast"}),
    ("fc00::1", {"public", "unicast", "global_unicast"}),  # libbeat's private IPv6 is fd00::/8 only
    ("ff01::1", {"multicast", "interface_local_multicast"}),
    ("ff02::fb", {"multicast", "link_local_multicast"}),
    ("::1", {"loopback"}),
    ("::ffff:192.168.0.1", {"private", "unicast", "global_unicast"}),  # IPv4-mapped is IPv4
])
def test_named_networks(address: str, names: set[str]) -> None:
    every = ["loopback", "unicast", "global_unicast", "link_local_unicast", "interface_local_multicast",
             "link_local_multicast", "multicast", "unspecified", "private", "public"]
    got = {n for n in every if matches({"network": {"ip": n}}, {"ip": address})}
    assert got == names


def test_or_and_not() -> None:
    is_dns = {"equals": {"type": "dns"}}
    is_http = {"equals": {"type": "http"}}
    failed = {"equals": {"status": "Error"}}
    assert matches({"or": [is_dns, is_http]})
    assert not matches({"or": [is_dns, {"not": is_http}]})
    assert not matches({"and": [is_http, {"not": failed}]})
    assert matches({"and": [is_http, failed, {"not": is_dns}]})
    assert matches({"not": {"and": [is_dns, failed]}})
    # Packetbeat test_0060's drop_event condition, kept for every event but flows:
    assert matches({"not": {"equals": {"type": "flow"}}})
    assert not matches({"not": {"equals": {"type": "flow"}}}, {"type": "flow"})


def test_dotted_operator_keys_as_yaml_gives_them() -> None:
    # `when.equals.type: http` in YAML arrives as {"equals.type": "http"}
    assert matches({"equals.type": "http"})
    assert not matches({"equals.type": "http", "equals.status": "OK"})
    assert matches({"range.http.response.status_code.gte": 500})
    assert matches({"not.equals.type": "dns"})


def test_lookup_reads_nested_and_literal_dotted_keys() -> None:
    assert lookup(EVENT, "http.response.status_code") == 503
    assert lookup(EVENT, "event.duration") == 1500000
    assert lookup({"a": {"b.c": {"d": 1}}}, "a.b.c.d") == 1
    assert lookup(EVENT, "http.response.status_code.x") is MISSING
    assert lookup(EVENT, "nothing") is MISSING


@pytest.mark.parametrize(("spec", "where"), [
    ({"bogus": {"a": 1}}, "when"),
    ({"equals": {"a": 1}, "contains": {"b": "x"}}, "when"),
    ({"equals": {"a": 1.5}}, r"when\.equals\.a"),
    ({"equals": {}}, r"when\.equals"),
    ({"contains": {"a": 1}}, r"when\.contains\.a"),
    ({"regexp": {"a": "("}}, r"when\.regexp\.a"),
    ({"range": {"a.between": 1}}, r"when\.range\.a\.between"),
    ({"range": {"a.gt": "many"}}, r"when\.range\.a\.gt"),
    ({"has_fields": "a"}, r"when\.has_fields"),
    ({"network": {"ip": "not-a-net"}}, r"when\.network\.ip"),
    ({"or": []}, r"when\.or"),
    ({"and": [{"equals": {"a": 1}}, {"nope": {}}]}, r"when\.and\.1"),
    ({"not": "x"}, r"when\.not"),
])
def test_bad_conditions_are_config_errors_naming_the_place(spec: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        build_condition(spec)
