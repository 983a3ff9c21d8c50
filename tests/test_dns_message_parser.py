"""Whole-message parsing: header, sections, EDNS, truncation, trailing bytes."""

from __future__ import annotations

import dns_wire as w
import pytest
from packetshipper.modules.dns.messages import DnsMessage
from packetshipper.modules.dns.parser import parse_message
from packetshipper.modules.dns.wire import DnsProtocolError

# dns_not_found.pcap (Packetbeat's corpus), UDP payloads as tshark prints them; the expected values
# below are tshark's decoding of these bytes.
NOT_FOUND_QUERY = bytes.fromhex(
    "02a901000001000000000000076e6f7468696e6707656c617374696302636f0000010001"
)
NOT_FOUND_RESPONSE = bytes.fromhex(
    "02a981830001000000010000076e6f7468696e6707656c617374696302636f0000010001c01400060001000003460049"
    "076e732d3131383309617773646e732d3139036f72670011617773646e732d686f73746d617374657206616d617a6f6e"
    "03636f6d000000000100001c20000003840012750000015180"
)


def test_not_found_query_from_pcap() -> None:
    msg = parse_message(NOT_FOUND_QUERY, 1.5)
    h = msg.header
    assert (h.id, h.response, h.opcode, h.recursion_desired, h.rcode) == (0x02A9, False, 0, True, 0)
    assert [(q.name, q.qtype, q.qclass) for q in msg.questions] == [("nothing.elastic.co.", 1, 1)]
    assert (msg.answers, msg.authorities, msg.additionals, msg.edns) == ((), (), (), None)
    assert (msg.ts, msg.length, msg.trailing) == (1.5, 36, 0)


def test_not_found_response_from_pcap() -> None:
    msg = parse_message(NOT_FOUND_RESPONSE, 2.0)
    h = msg.header
    assert (h.id, h.response, h.recursion_desired, h.recursion_available, h.rcode) == (0x02A9, True, True, True, 3)
    assert msg.answers == ()
    (soa,) = msg.authorities
    assert (soa.name, soa.rtype, soa.ttl, soa.data) == ("elastic.co.", 6, 838, "ns-1183.awsdns-19.org")
    assert dict(soa.details) == {
        "rname": "awsdns-hostmaster.amazon.com",
        "serial": 1,
        "refresh": 7200,
        "retry": 900,
        "expire": 1209600,
        "minimum": 86400,
    }
    assert msg.length == 121


@pytest.mark.parametrize(
    ("flag", "attribute"),
    [
        ("qr", "response"),
        ("aa", "authoritative"),
        ("tc", "truncated"),
        ("rd", "recursion_desired"),
        ("ra", "recursion_available"),
        ("ad", "authentic_data"),
        ("cd", "checking_disabled"),
    ],
)
def test_each_header_flag_is_read_from_its_own_bit(flag: str, attribute: str) -> None:
    header = parse_message(w.message(header_flags=w.flags(**{flag: True})), 0.0).header
    flags = {
        name: getattr(header, name)
        for name in ("response", "authoritative", "truncated", "recursion_desired", "recursion_available",
                     "authentic_data", "checking_disabled")
    }  # fmt: skip
    assert [name for name, on in flags.items() if on] == [attribute]
    assert (header.opcode, header.rcode) == (0, 0)


def test_opcode_and_rcode() -> None:
    header = parse_message(w.message(header_flags=w.flags(opcode=5, rcode=9)), 0.0).header
    assert (header.opcode, header.rcode) == (5, 9)


def test_sections_and_opt_record() -> None:
    msg = parse_message(
        w.message(
            ident=7,
            header_flags=w.flags(qr=True, rd=True, ra=True),
            questions=[w.question("example.com", w.A)],
            answers=[w.rr("example.com", w.A, w.a("192.0.2.1")), w.rr("example.com", w.A, w.a("192.0.2.2"))],
            authorities=[w.rr("example.com", w.NS, w.name("ns1.example.com"))],
            additionals=[
                w.rr("ns1.example.com", w.A, w.a("192.0.2.53")),
                w.opt(udp_size=4000, version=0, do=True, options=[(3, b"\xab\xcd"), (10, b"\x01" * 8)]),
            ],
        ),
        0.0,
    )
    assert [r.address for r in msg.answers] == ["192.0.2.1", "192.0.2.2"]
    assert [r.data for r in msg.authorities] == ["ns1.example.com"]
    assert [r.data for r in msg.additionals] == ["192.0.2.53"]  # OPT is not an additional record
    assert msg.edns is not None
    assert (msg.edns.udp_size, msg.edns.version, msg.edns.dnssec_ok, msg.edns.ext_rcode) == (4000, 0, True, 0)
    assert msg.edns.options == (("nsid", "abcd"), ("cookie", "0101010101010101"))


def test_opt_extended_rcode_version_and_client_subnet() -> None:
    subnet = bytes.fromhex("0001" "18" "00") + bytes([198, 51, 100])
    msg = parse_message(w.message(additionals=[w.opt(1232, ext_rcode=1, version=1, options=[(8, subnet)])]), 0.0)
    assert msg.edns is not None
    assert (msg.edns.ext_rcode, msg.edns.version, msg.edns.dnssec_ok) == (1, 1, False)
    assert msg.edns.options == (("subnet", "198.51.100.0/24/0"),)


def test_unknown_edns_options_are_skipped_and_local_ones_kept() -> None:
    msg = parse_message(w.message(additionals=[w.opt(options=[(12, b"\x00" * 4), (65001, b"\x12")])]), 0.0)
    assert msg.edns is not None and msg.edns.options == (("local", "0x12"),)


def test_edns_option_running_past_the_record_is_an_error() -> None:
    bad = b"\x00" + bytes.fromhex("0029" "1000" "00000000" "0004") + bytes.fromhex("0003" "0009")
    with pytest.raises(DnsProtocolError, match="EDNS option data"):
        parse_message(w.message(additionals=[bad]), 0.0)


def test_header_only_message() -> None:
    msg = parse_message(bytes(12), 0.0)
    assert (msg.header.id, msg.questions, msg.length) == (0, (), 12)


FULL = w.message(
    header_flags=w.flags(qr=True),
    questions=[w.question("example.com", w.MX)],
    answers=[w.rr("example.com", w.MX, w.mx(10, "mail.example.com"))],
    additionals=[w.opt()],
)


@pytest.mark.parametrize("cut", range(len(FULL)))
def test_every_truncation_raises_protocol_error(cut: int) -> None:
    with pytest.raises(DnsProtocolError):
        parse_message(FULL[:cut], 0.0)


def test_trailing_bytes_are_counted_not_parsed() -> None:
    whole = parse_message(FULL, 0.0)
    padded = parse_message(FULL + b"\x00junk", 0.0)
    assert padded.trailing == 5
    assert _same_content(whole, padded)


def test_counts_larger_than_the_data_raise() -> None:
    lying = bytearray(w.query("example.com"))
    lying[5] = 2  # qdcount 2, one question present
    with pytest.raises(DnsProtocolError, match="question 1"):
        parse_message(bytes(lying), 0.0)


def _same_content(a: DnsMessage, b: DnsMessage) -> bool:
    return (a.header, a.questions, a.answers, a.authorities, a.additionals, a.edns) == (
        b.header, b.questions, b.answers, b.authorities, b.additionals, b.edns,
    )  # fmt: skip
