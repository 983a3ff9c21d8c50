"""DNS events from Packetbeat's test captures.

Expected values come from Packetbeat's packetbeat/tests/system/test_0032_dns.py and, where it says
less, from tshark's decoding of the same captures. `events_from_pcap` checks every event against
fields/ itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packetshipper.testing import events_from_pcap

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"


def dns_events(pcap: str, **dns_config: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "dns", **dns_config}], "flows": {"enabled": False}}}
    return events_from_pcap(str(PCAPS / pcap), config)


def only_event(pcap: str, **dns_config: Any) -> dict[str, Any]:
    events = dns_events(pcap, **dns_config)
    assert len(events) == 1, events
    return events[0]


def test_a_query_for_google_com() -> None:
    e = only_event("dns_google_com.pcap")
    assert e["type"] == "dns"
    assert e["network"]["type"] == "ipv4"
    assert e["network"]["protocol"] == "dns"
    assert e["network"]["transport"] == "udp"
    assert e["network"]["bytes"] == 312
    assert "community_id" in e["network"]
    assert e["event"]["duration"] == 61782000
    assert e["client"]["ip"] == e["source"]["ip"] == "192.168.238.68"
    assert e["client"]["port"] == e["source"]["port"] == 60893
    assert e["source"]["bytes"] == 28
    assert e["server"]["ip"] == e["destination"]["ip"] == "192.168.238.1"
    assert e["server"]["port"] == e["destination"]["port"] == 53
    assert e["destination"]["bytes"] == 284
    assert e["method"] == "QUERY"
    assert e["query"] == "class IN, type A, google.com"
    assert e["dns"]["question"]["type"] == "A"
    assert e["status"] == "OK"
    assert len(e["dns"]["answers"]) == 16
    assert all(x["type"] == "A" for x in e["dns"]["answers"])
    # tshark: transaction id 0x4807, 16 answers for google.com
    assert e["dns"]["id"] == 0x4807
    assert len(e["dns"]["resolved_ip"]) == 16
    assert set(e["dns"]["resolved_ip"]) <= set(e["related"]["ip"])


def test_a_query_not_found() -> None:
    e = only_event("dns_not_found.pcap")
    assert e["type"] == "dns"
    assert e["network"]["protocol"] == "dns"
    assert e["network"]["transport"] == "udp"
    assert e["method"] == "QUERY"
    assert e["query"] == "class IN, type A, nothing.elastic.co"
    assert e["dns"]["question"]["type"] == "A"
    assert e["status"] == "Error"
    assert e["dns"]["response_code"] == "NXDOMAIN"
    assert e["dns"]["answers_count"] == 0
    assert e["dns"]["authorities_count"] == 1
    assert "authorities" not in e["dns"]  # include_authorities defaults to false


def test_include_authorities() -> None:
    e = only_event("dns_not_found.pcap", include_authorities=True)
    assert e["dns"]["authorities_count"] == 1
    (soa,) = e["dns"]["authorities"]
    # tshark: elastic.co SOA, TTL 838, mname ns-1183.awsdns-19.org, serial 1
    assert (soa["name"], soa["type"], soa["ttl"], soa["data"], soa["serial"]) == (
        "elastic.co", "SOA", 838, "ns-1183.awsdns-19.org", 1,
    )  # fmt: skip


def test_include_additionals() -> None:
    e = only_event("dns_additional.pcap", include_additionals=True)
    assert e["dns"]["additionals_count"] == 1
    # tshark: ns.heise.de A 193.99.145.37, TTL 1298
    assert e["dns"]["additionals"] == [
        {"name": "ns.heise.de", "type": "A", "class": "IN", "ttl": 1298, "data": "193.99.145.37"}
    ]


def test_mx_query() -> None:
    e = only_event("dns_mx.pcap")
    assert (e["method"], e["query"], e["dns"]["question"]["type"], e["status"]) == (
        "QUERY", "class IN, type MX, elastic.co", "MX", "OK",
    )  # fmt: skip
    assert e["dns"]["answers_count"] == 5  # tshark
    assert all("preference" in x for x in e["dns"]["answers"])


def test_ns_query() -> None:
    e = only_event("dns_ns.pcap")
    assert (e["network"]["transport"], e["query"], e["dns"]["question"]["type"], e["status"]) == (
        "udp", "class IN, type NS, elastic.co", "NS", "OK",
    )  # fmt: skip


def test_txt_query() -> None:
    e = only_event("dns_txt.pcap")
    assert e["destination"]["ip"] == e["server"]["ip"] == "8.8.8.8"
    assert e["query"] == "class IN, type TXT, elastic.co"
    assert e["dns"]["question"]["type"] == "TXT"
    assert e["status"] == "OK"
    assert len(e["dns"]["answers"]) == 2
    assert all(x["type"] == "TXT" for x in e["dns"]["answers"])
    assert "request" not in e and "response" not in e
    assert {x["data"].split("=", 1)[0] for x in e["dns"]["answers"]} == {"globalsign-domain-verification", "v"}


def test_send_request_and_response() -> None:
    e = only_event("dns_txt.pcap", send_request=True, send_response=True)
    assert "elastic.co" in e["request"]
    assert "include:_spf.google.com" in e["response"]


def test_tcp_axfr() -> None:
    e = only_event("dns_tcp_axfr.pcap", send_request=True, send_response=True)
    assert e["network"]["transport"] == "tcp"
    assert e["method"] == "QUERY"
    assert e["query"] == "class IN, type AXFR, etas.com"
    assert e["dns"]["question"]["type"] == "AXFR"
    assert e["status"] == "OK"
    assert len(e["dns"]["answers"]) == 4
    assert all("etas.com" in x["name"] for x in e["dns"]["answers"])
    # tshark: TCP payloads of 30 and 197 bytes; answers SOA, NS, A 1.1.1.1, SOA
    assert (e["source"]["bytes"], e["destination"]["bytes"]) == (30, 197)
    assert [x["type"] for x in e["dns"]["answers"]] == ["SOA", "NS", "A", "SOA"]
    soa = e["dns"]["answers"][0]
    assert (soa["data"], soa["rname"], soa["serial"], soa["refresh"], soa["retry"], soa["expire"], soa["minimum"]) == (
        "training2003p", "hostmaster", 3, 60, 600, 86400, 3600,
    )  # fmt: skip
    assert e["dns"]["resolved_ip"] == ["1.1.1.1"]


def test_edns_with_dnssec_records() -> None:
    e = only_event("dns_udp_edns_ds.pcap")
    assert e["network"]["transport"] == "udp"
    assert e["query"] == "class IN, type DS, ietf.org"
    assert e["dns"]["question"]["type"] == "DS"
    assert e["status"] == "OK"
    assert e["dns"]["opt"]["do"] is True
    assert e["dns"]["opt"]["version"] == "0"
    assert e["dns"]["opt"]["udp_size"] == 4000
    assert e["dns"]["opt"]["ext_rcode"] == "NOERROR"
    assert len(e["dns"]["answers"]) == 3
    assert all("ietf.org" in x["name"] for x in e["dns"]["answers"])
    # tshark: DS key id 0xb212, RSA/SHA1, SHA-256; RRSIG covering DS, key tag 41790, signer org
    ds, _, rrsig = e["dns"]["answers"]
    assert (ds["key_tag"], ds["algorithm"], ds["digest_type"]) == ("45586", "RSASHA1", "SHA256")
    assert ds["data"] == "67FCD7E0B9E0366309F3B6F7476DFF931D5226EDC5348CD80FD82A081DFCF6EE"
    assert (rrsig["type_covered"], rrsig["key_tag"], rrsig["signer_name"]) == ("DS", "41790", "org")
    assert (rrsig["expiration"], rrsig["inception"]) == ("20130207154924", "20130117144924")
    assert e["dns"]["header_flags"] == ["RD", "RA", "AD", "DO"]
