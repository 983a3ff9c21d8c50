"""Packetbeat's test_0032_dns.py (elastic/beats packetbeat/tests/system), re-run assertion by assertion.

Field names are those Packetbeat 8 writes, as that test already spells them. Every event is validated
against fields/ and checked for the harness's TRANS_REQUIRED_FIELDS (see template.py).
"""

from __future__ import annotations

from packetbeat_system.template import read_output, render_config
from packetbeat_system.timestamps import EXACT_TIMESTAMPS, assert_same_instant


def test_A() -> None:
    objs = read_output("dns_google_com.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.type"] == "ipv4"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["network.bytes"] == 312
    assert "network.community_id" in o
    # Packetbeat's values have microseconds; ours, for now, milliseconds (timestamps.py; the exact
    # strings are also in test_A_microsecond_timestamps).
    assert_same_instant(o["event.start"], "2015-08-27T08:00:55.638957Z")
    assert_same_instant(o["event.end"], "2015-08-27T08:00:55.700739Z")
    assert o["event.duration"] == 61782000
    assert o["client.ip"] == "192.168.238.68"
    assert o["source.ip"] == "192.168.238.68"
    assert o["client.port"] == 60893
    assert o["source.port"] == 60893
    assert o["source.bytes"] == 28
    assert o["server.ip"] == "192.168.238.1"
    assert o["destination.ip"] == "192.168.238.1"
    assert o["server.port"] == 53
    assert o["destination.port"] == 53
    assert o["destination.bytes"] == 284
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type A, google.com"
    assert o["dns.question.type"] == "A"
    assert o["status"] == "OK"
    assert len(o["dns.answers"]) == 16
    assert all(x["type"] == "A" for x in o["dns.answers"])


@EXACT_TIMESTAMPS
def test_A_microsecond_timestamps() -> None:
    (o,) = read_output("dns_google_com.pcap", render_config(dns_ports=[53]))
    assert o["event.start"] == "2015-08-27T08:00:55.638957Z"
    assert o["event.end"] == "2015-08-27T08:00:55.700739Z"


def test_A_not_found() -> None:
    objs = read_output("dns_not_found.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type A, nothing.elastic.co"
    assert o["dns.question.type"] == "A"
    assert o["status"] == "Error"
    assert o["dns.response_code"] == "NXDOMAIN"
    assert o["dns.answers_count"] == 0
    assert o["dns.authorities_count"] == 1
    assert "dns.authorities" not in o  # include_authorities is off by default


def test_MX() -> None:
    objs = read_output("dns_mx.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type MX, elastic.co"
    assert o["dns.question.type"] == "MX"
    assert o["status"] == "OK"


def test_NS() -> None:
    objs = read_output("dns_ns.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type NS, elastic.co"
    assert o["dns.question.type"] == "NS"
    assert o["status"] == "OK"


def test_TXT() -> None:
    objs = read_output("dns_txt.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert o["destination.ip"] == "8.8.8.8"
    assert o["server.ip"] == "8.8.8.8"
    assert o["query"] == "class IN, type TXT, elastic.co"
    assert o["dns.question.type"] == "TXT"
    assert o["status"] == "OK"
    assert len(o["dns.answers"]) == 2
    assert all(x["type"] == "TXT" for x in o["dns.answers"])
    assert "request" not in o
    assert "response" not in o


def test_include_authorities() -> None:
    objs = read_output("dns_not_found.pcap", render_config(dns_ports=[53], dns_include_authorities=True))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["dns.authorities_count"] == 1
    assert "dns.authorities" in o
    assert len(o["dns.authorities"]) == 1


def test_include_additionals() -> None:
    objs = read_output("dns_additional.pcap", render_config(dns_ports=[53], dns_include_additionals=True))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["dns.additionals_count"] == 1
    assert "dns.additionals" in o
    assert len(o["dns.additionals"]) == 1


def test_send_request_response() -> None:
    objs = read_output("dns_txt.pcap", render_config(dns_ports=[53], dns_send_request=True, dns_send_response=True))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert "request" in o
    assert "response" in o
    assert "elastic.co" in o["request"]
    assert "include:_spf.google.com" in o["response"]


def test_tcp_axfr() -> None:
    objs = read_output("dns_tcp_axfr.pcap", render_config(dns_ports=[53], dns_send_request=True,
                                                          dns_send_response=True))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "tcp"
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type AXFR, etas.com"
    assert o["dns.question.type"] == "AXFR"
    assert o["status"] == "OK"
    assert len(o["dns.answers"]) == 4
    assert all("etas.com" in x["name"] for x in o["dns.answers"])


def test_edns_dnssec() -> None:
    objs = read_output("dns_udp_edns_ds.pcap", render_config(dns_ports=[53]))
    assert len(objs) == 1
    o = objs[0]
    assert o["type"] == "dns"
    assert o["network.protocol"] == "dns"
    assert o["network.transport"] == "udp"
    assert o["method"] == "QUERY"
    assert o["query"] == "class IN, type DS, ietf.org"
    assert o["dns.question.type"] == "DS"
    assert o["status"] == "OK"
    assert o["dns.opt.do"] is True
    assert o["dns.opt.version"] == "0"
    assert o["dns.opt.udp_size"] == 4000
    assert o["dns.opt.ext_rcode"] == "NOERROR"
    assert len(o["dns.answers"]) == 3
    assert all("ietf.org" in x["name"] for x in o["dns.answers"])
