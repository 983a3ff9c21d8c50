"""The DNS event: Packetbeat's `dns.*`, `method`, `query`, `resource` fields, valid against fields/."""

from __future__ import annotations

from typing import Any

import dns_wire as w
import pytest
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.dns import MODULE
from packetshipper.modules.dns.correlator import NO_RESPONSE, DnsCorrelator
from packetshipper.modules.dns.suffix import DEFAULT_LIST_PATH
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, Transaction
from packetshipper.settings import ConfigError, validate

CONN = Connection("udp", 4, Endpoint("192.168.238.68", 60893), Endpoint("192.168.238.1", 53))


def module(**config: Any) -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "dns", **config}))


def exchange(query: bytes, response: bytes | None, mod: Any | None = None) -> dict[str, Any]:
    """Run the messages through the module's correlator and build the event the core would publish."""
    mod = mod or module()
    correlator: DnsCorrelator = mod.correlator(CONN)
    txns: list[Transaction[Any, Any]] = []
    txns += correlator.on_message(Direction.REQUEST, mod.parse_datagram(query, 10.0, Direction.REQUEST, CONN)[0], 10.0)
    if response is not None:
        msg = mod.parse_datagram(response, 10.5, Direction.RESPONSE, CONN)[0]
        txns += correlator.on_message(Direction.RESPONSE, msg, 10.5)
    else:
        txns += correlator.expire(100.0)
    (txn,) = txns
    event = transaction_event("dns", txn, mod.event_fields(txn))
    assert validate_event(event) == []
    return event


QUERY = w.query("www.Example.co.uk", w.A, ident=0x4807)
RESPONSE = w.message(
    0x4807,
    w.flags(qr=True, rd=True, ra=True),
    [w.question("www.Example.co.uk", w.A)],
    answers=[
        w.rr("www.Example.co.uk", w.CNAME, w.name("edge.example.net"), ttl=59),
        w.rr("edge.example.net", w.A, w.a("192.0.2.7"), ttl=20),
        w.rr("edge.example.net", w.AAAA, w.aaaa("2001:db8::7"), ttl=20),
    ],
    authorities=[w.rr("example.net", w.NS, w.name("ns1.example.net"))],
    additionals=[w.rr("ns1.example.net", w.A, w.a("192.0.2.53")), w.opt(1232, do=True)],
)


def test_answered_query() -> None:
    e = exchange(QUERY, RESPONSE)
    assert e["type"] == "dns" and e["status"] == "OK"
    assert e["method"] == "QUERY"
    assert e["query"] == "class IN, type A, www.Example.co.uk"
    assert e["resource"] == "www.Example.co.uk"
    dns = e["dns"]
    assert dns["type"] == "answer"
    assert dns["id"] == 0x4807 and dns["op_code"] == "QUERY" and dns["response_code"] == "NOERROR"
    assert dns["flags"] == {
        "authoritative": False,
        "truncated_response": False,
        "recursion_desired": True,
        "recursion_available": True,
        "authentic_data": False,
        "checking_disabled": False,
    }
    assert dns["header_flags"] == ["RD", "RA", "DO"]
    assert dns["question"] == {
        "name": "www.Example.co.uk",
        "type": "A",
        "class": "IN",
        "registered_domain": "Example.co.uk",
        "etld_plus_one": "Example.co.uk",
        "top_level_domain": "co.uk",
        "subdomain": "www",
    }
    assert dns["answers"] == [
        {"name": "www.Example.co.uk", "type": "CNAME", "class": "IN", "ttl": 59, "data": "edge.example.net"},
        {"name": "edge.example.net", "type": "A", "class": "IN", "ttl": 20, "data": "192.0.2.7"},
        {"name": "edge.example.net", "type": "AAAA", "class": "IN", "ttl": 20, "data": "2001:db8::7"},
    ]
    assert dns["resolved_ip"] == ["192.0.2.7", "2001:db8::7"]
    assert (dns["answers_count"], dns["authorities_count"], dns["additionals_count"]) == (3, 1, 1)
    assert "authorities" not in dns and "additionals" not in dns
    assert dns["opt"] == {"version": "0", "do": True, "udp_size": 1232, "ext_rcode": "NOERROR"}
    assert e["related"]["ip"] == sorted(["192.168.238.68", "192.168.238.1", "192.0.2.7", "2001:db8::7"])
    assert e["event"]["duration"] == 500_000_000
    assert (e["source"]["bytes"], e["destination"]["bytes"]) == (len(QUERY), len(RESPONSE))
    assert "request" not in e and "response" not in e


def test_include_authorities_and_additionals() -> None:
    e = exchange(QUERY, RESPONSE, module(include_authorities=True, include_additionals=True))
    assert e["dns"]["authorities"] == [
        {"name": "example.net", "type": "NS", "class": "IN", "ttl": 300, "data": "ns1.example.net"}
    ]
    assert e["dns"]["additionals"] == [
        {"name": "ns1.example.net", "type": "A", "class": "IN", "ttl": 300, "data": "192.0.2.53"}
    ]


def test_record_details_sit_beside_data() -> None:
    response = w.message(
        1, w.flags(qr=True), [w.question("example.com", w.MX)], [w.rr("example.com", w.MX, w.mx(10, "mx.example.com"))]
    )
    e = exchange(w.query("example.com", w.MX, ident=1), response)
    assert e["dns"]["answers"] == [
        {"name": "example.com", "type": "MX", "class": "IN", "ttl": 300, "data": "mx.example.com", "preference": 10}
    ]
    assert "resolved_ip" not in e["dns"]
    assert e["related"]["ip"] == ["192.168.238.1", "192.168.238.68"]


def test_nxdomain_is_status_error() -> None:
    response = w.message(1, w.flags(qr=True, rcode=3), [w.question("nothing.example.com")])
    e = exchange(w.query("nothing.example.com", ident=1), response)
    assert e["status"] == "Error"
    assert e["event"]["outcome"] == "failure"
    assert e["dns"]["response_code"] == "NXDOMAIN"
    assert "error" not in e


def test_unanswered_query_is_an_error_event_with_the_query() -> None:
    e = exchange(w.query("example.com", w.AAAA, ident=3), None)
    assert e["status"] == "Error"
    assert e["error"]["message"] == NO_RESPONSE
    assert e["dns"]["type"] == "query"
    assert e["query"] == "class IN, type AAAA, example.com"
    assert e["dns"]["flags"]["recursion_desired"] is True
    assert (e["source"]["bytes"], e["destination"]["bytes"]) == (len(w.query("example.com", w.AAAA)), 0)


def test_send_request_and_response_text() -> None:
    e = exchange(QUERY, RESPONSE, module(send_request=True, send_response=True))
    assert e["request"] == "ID 18439; QR query; OPCODE QUERY; FLAGS rd; RCODE NOERROR; QUESTION class IN, type A, www.Example.co.uk"
    assert e["response"].startswith("ID 18439; QR response; OPCODE QUERY; FLAGS rd ra; RCODE NOERROR; ")
    assert "ANSWER edge.example.net; 192.0.2.7; 2001:db8::7; AUTHORITY ns1.example.net; ADDITIONAL 192.0.2.53" in e["response"]


def test_extended_rcode_16_is_badvers() -> None:
    response = w.message(1, w.flags(qr=True), [w.question("example.com")], additionals=[w.opt(ext_rcode=1)])
    e = exchange(w.query("example.com", ident=1), response)
    assert e["dns"]["opt"]["ext_rcode"] == "BADVERS"


def test_edns_options_appear_under_opt() -> None:
    options = [(3, b"ns1"), (8, bytes.fromhex("0002" "30" "00") + bytes.fromhex("20010db8abcd"))]
    response = w.message(1, w.flags(qr=True), [w.question("example.com")], additionals=[w.opt(options=options)])
    e = exchange(w.query("example.com", ident=1), response)
    assert e["dns"]["opt"]["nsid"] == "6e7331"
    assert e["dns"]["opt"]["subnet"] == "2001:db8:abcd::/48/0"


@pytest.mark.parametrize(
    ("qname", "expected"),
    [
        ("example.com", {"registered_domain": "example.com", "top_level_domain": "com"}),
        ("a.b.example.com", {"registered_domain": "example.com", "top_level_domain": "com", "subdomain": "a.b"}),
        ("github.io", {"registered_domain": "github.io", "top_level_domain": "io"}),
        ("com", {}),
        (".", {}),
    ],
)
def test_registered_domain_parts(qname: str, expected: dict[str, str]) -> None:
    e = exchange(w.query(qname, ident=1), w.message(1, w.flags(qr=True), [w.question(qname)]))
    question = e["dns"]["question"]
    parts = {k: question[k] for k in ("registered_domain", "top_level_domain", "subdomain") if k in question}
    assert parts == expected


def test_without_a_suffix_list_the_domain_parts_are_left_out_and_counted() -> None:
    mod = module(public_suffix_list="/nonexistent/public_suffix_list.dat")
    assert mod.stats == {"public_suffix_list_unavailable": 1}
    e = exchange(QUERY, RESPONSE, mod)
    assert set(e["dns"]["question"]) == {"name", "type", "class"}


def test_module_declares_packetbeat_defaults() -> None:
    mod = module()
    assert (MODULE.name, MODULE.transports, mod.ports) == ("dns", frozenset({"udp", "tcp"}), (53,))
    assert mod.config["include_authorities"] is False and mod.config["include_additionals"] is False
    assert mod.config["public_suffix_list"] == DEFAULT_LIST_PATH


def test_malformed_records_and_trailing_bytes_are_counted() -> None:
    mod = module()
    bad = w.message(1, w.flags(qr=True), [w.question("example.com")], [w.rr("example.com", w.A, b"\x01\x02\x03")])
    mod.parse_datagram(bad + b"\x00\x00", 0.0, Direction.RESPONSE, CONN)
    assert mod.stats == {"malformed_records": 1, "trailing_bytes": 2}


@pytest.mark.parametrize(("key", "value"), [("max_message_size", 65536), ("max_message_size", 11), ("max_pending_queries", 0)])
def test_out_of_range_limits_are_config_errors(key: str, value: int) -> None:
    with pytest.raises(ConfigError) as caught:
        module(**{key: value})
    assert caught.value.path == key
